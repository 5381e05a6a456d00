import CPerfProbeUnwind

/// A libunwind address space set up with perfprobe's accessors (the C shim
/// over libunwind's remote API, whose `unw_*` names are macros): the one
/// file that calls it. Owns the space; destroys it in `deinit`. Used only on
/// the sampling thread.
struct UnwindAddressSpace: ~Copyable {
    private let handle: UnsafeMutableRawPointer

    init() throws(SamplingError) {
        guard let handle = CPerfProbeUnwind_create() else {
            throw .system("creating the libunwind address space", Errno(12)) // ENOMEM
        }
        self.handle = handle
    }

    deinit {
        CPerfProbeUnwind_destroy(handle)
    }

    /// Forgets what libunwind cached of the code it read (another process,
    /// or changed mappings).
    func flush() {
        CPerfProbeUnwind_flush(handle)
    }

    /// Unwinds from `registers` (perf's user register set) over the copied
    /// `stack`, reading code and CFI through `segments` (sorted by start):
    /// the return addresses found, innermost first, into `addresses`, and how it ended.
    func unwind(registers: [UInt64], stack: [UInt8], segments: [CPerfProbeUnwind_Segment],
                into addresses: inout [UInt64]) -> (count: Int, outcome: CPerfProbeUnwind_Outcome) {
        var input = CPerfProbeUnwind_Sample()
        withUnsafeMutableBytes(of: &input.registers) { raw in
            registers.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(raw.count))) }
        }
        var outcome = CPerfProbeUnwind_failed
        let count = segments.withUnsafeBufferPointer { table in
            stack.withUnsafeBufferPointer { stack in
                input.segments = table.baseAddress
                input.segment_count = table.count
                input.stack = stack.baseAddress
                input.stack_size = stack.count
                return addresses.withUnsafeMutableBufferPointer {
                    Int(CPerfProbeUnwind_unwind(handle, &input, $0.baseAddress, Int32(clamping: $0.count), &outcome))
                }
            }
        }
        return (count, outcome)
    }
}
