import CPerfProbeUnwind

/// A libunwind address space set up with perfprobe's accessors. Owns it;
/// destroys it in `deinit`. Used only on the sampling thread.
struct UnwindAddressSpace: ~Copyable {
    let handle: UnsafeMutableRawPointer

    init() throws(SamplingError) {
        guard let handle = CPerfProbeUnwind_create() else {
            throw .system("creating the libunwind address space", Errno(12)) // ENOMEM
        }
        self.handle = handle
    }

    deinit {
        CPerfProbeUnwind_destroy(handle)
    }
}
