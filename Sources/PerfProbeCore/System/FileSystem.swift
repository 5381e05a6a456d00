import FoundationEssentials
import Glibc

/// What the CLI needs of the file system, with the kernel's errors.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool { Syscalls.exists(path) }
    public static func isDirectory(_ path: String) -> Bool { Syscalls.isDirectory(path) }
    /// The folder `path` is in ("." for a bare name).
    public static func parentPath(_ path: String) -> String { Syscalls.parentPath(path) }

    /// Replaces `path` with `bytes` in one rename: a reader sees the old
    /// file or the new one. Missing folders above it are made, as for a
    /// report directory (the options' check accepts a path that can be made).
    public static func replace(_ path: String, with bytes: [UInt8]) throws(Errno) {
        let parent = Syscalls.parentPath(path)
        try Syscalls.makeDirectories(parent)
        let staging = parent + "/.perfprobe-\(getpid())-" + String(path.utf8.count)
        Syscalls.removeFile(staging)
        do {
            try bytes.withUnsafeBytes { try Syscalls.writeNewFile(staging, $0) }
            try Syscalls.rename(staging, to: path)
        } catch {
            Syscalls.removeFile(staging)
            throw (error as? Errno) ?? Errno(EIO)
        }
    }

    /// Appends `bytes` to `path`, which must exist.
    public static func append(_ path: String, _ bytes: [UInt8]) throws(Errno) {
        let file = FileDescriptor(try valueOrErrno { open(path, O_WRONLY | O_APPEND | O_CLOEXEC) })
        try file.write(bytes)
    }

    /// `date` in local time as yyyyMMdd-HHmmss, for directory names.
    public static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var local = tm()
        localtime_r(&seconds, &local)
        return String(printf: "%04d%02d%02d-%02d%02d%02d", Int(local.tm_year) + 1900, Int(local.tm_mon) + 1, Int(local.tm_mday),
                      Int(local.tm_hour), Int(local.tm_min), Int(local.tm_sec))
    }
}
