/// An open file descriptor, owned: closed when its owner ends. Every fd the
/// agent holds alone is one (the groups of perf events and BPF objects own
/// theirs in lists, closed in their own `deinit`).
public struct FileDescriptor: ~Copyable, Sendable {
    public let raw: Int32

    init(_ raw: Int32) {
        self.raw = raw
    }

    deinit {
        Syscalls.close(raw)
    }

    /// `path` opened to append to (created 0644 if missing; a symlink is refused).
    public static func append(to path: String) throws(Errno) -> FileDescriptor {
        FileDescriptor(try Syscalls.openForAppending(path, create: true))
    }

    /// `path`, which must exist, opened to append to.
    static func appendToExisting(_ path: String) throws(Errno) -> FileDescriptor {
        FileDescriptor(try Syscalls.openForAppending(path, create: false))
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: some Sequence<UInt8>) throws(Errno) {
        try Syscalls.writeAll(raw, Array(bytes))
    }
}
