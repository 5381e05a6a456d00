import FoundationEssentials

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
        let staging = parent + "/.perfprobe-\(Syscalls.currentProcessID())-" + String(path.utf8.count)
        Syscalls.removeFile(staging)
        do {
            try bytes.withUnsafeBytes { try Syscalls.writeNewFile(staging, $0) }
            try Syscalls.rename(staging, to: path)
        } catch {
            Syscalls.removeFile(staging)
            throw (error as? Errno) ?? Errno.inputOutput
        }
    }

    /// Appends `bytes` to `path`, which must exist.
    public static func append(_ path: String, _ bytes: [UInt8]) throws(Errno) {
        try FileDescriptor.appendToExisting(path).write(bytes)
    }

    /// `date` in local time as yyyyMMdd-HHmmss, for directory names.
    public static func timestamp(_ date: Date) -> String {
        let local = Syscalls.localTime(secondsSinceEpoch: Int(date.timeIntervalSince1970.rounded(.down)))
        return String(printf: "%04d%02d%02d-%02d%02d%02d", local.year, local.month, local.day, local.hour, local.minute, local.second)
    }
}
