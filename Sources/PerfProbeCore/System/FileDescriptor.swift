import Glibc

/// An open file descriptor, owned: closed when its owner ends.
public struct FileDescriptor: ~Copyable {
    public let raw: Int32

    init(_ raw: Int32) {
        self.raw = raw
    }

    deinit {
        Syscalls.close(raw)
    }

    /// `path` opened to append to (created 0644 if missing; a symlink is refused).
    public static func append(to path: String) throws(Errno) -> FileDescriptor {
        FileDescriptor(try valueOrErrno { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644) })
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: some Sequence<UInt8>) throws(Errno) {
        try Syscalls.writeAll(raw, Array(bytes))
    }
}
