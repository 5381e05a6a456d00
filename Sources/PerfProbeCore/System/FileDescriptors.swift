/// Descriptors owned together: the perf events and BPF objects of one
/// group, which an Array of `FileDescriptor` cannot hold (its elements must
/// be copyable). Each fd is adopted the moment a call returns it; all still
/// held are closed in `deinit`, last adopted first (an event before the
/// program and maps it uses), or one at a time with `close`.
struct FileDescriptors: ~Copyable {
    private(set) var all: [Int32] = []

    init() {}

    deinit {
        all.reversed().forEach(Syscalls.close)
    }

    /// Takes ownership of `fd` (just returned by the kernel) and returns it.
    @discardableResult
    mutating func adopt(_ fd: Int32) -> Int32 {
        all.append(fd)
        return fd
    }

    /// Closes `fd`, one of those held.
    mutating func close(_ fd: Int32) {
        guard let index = all.lastIndex(of: fd) else { return }
        all.remove(at: index)
        Syscalls.close(fd)
    }
}
