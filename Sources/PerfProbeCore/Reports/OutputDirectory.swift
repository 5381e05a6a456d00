import FoundationEssentials

/// A report that cannot be written: the path and the errno's text.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "cannot write \(path): \(reason)" }

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// Where a report set goes, written so that a reader sees all of it or none:
/// files are staged in a temporary directory in the same parent (so renames
/// stay on one file system) and renamed into place once all are written.
public struct OutputDirectory: Sendable {
    let destination: String
    let staging: String
    let names: [String]

    /// Checks before the target starts that `path` can be a report
    /// directory: it is a directory or can be created (the nearest existing
    /// ancestor is a writable directory), proved by creating and removing a
    /// temporary directory there.
    public static func checkWritable(_ path: String) throws(OutputError) {
        guard !path.isEmpty else { throw OutputError(path: "\"\"", reason: "the path is empty") }
        var existing = path
        while !Syscalls.exists(existing) {
            existing = Syscalls.parentPath(existing)
            if existing == "." || existing == "/" { break }
        }
        guard Syscalls.isDirectory(existing) else {
            throw OutputError(path: path, reason: "\(existing) exists and is not a directory")
        }
        Syscalls.removeDirectory(try makeTemporary(in: existing, for: path))
    }

    /// Writes `files` into a new staging directory for `destination`.
    static func stage(_ files: [(name: String, data: Data)], into destination: String) throws(OutputError) -> OutputDirectory {
        let parent = Syscalls.parentPath(destination)
        do {
            try Syscalls.makeDirectories(parent)
        } catch {
            throw OutputError(path: parent, reason: error.description)
        }
        let staging = try makeTemporary(in: parent, for: destination)
        for file in files {
            let path = staging + "/" + file.name
            do {
                try file.data.withUnsafeBytes { try Syscalls.writeNewFile(path, $0) }
            } catch {
                Syscalls.removeTree(staging)
                throw OutputError(path: destination + "/" + file.name, reason: (error as? Errno)?.description ?? "\(error)")
            }
        }
        return OutputDirectory(destination: destination, staging: staging, names: files.map(\.name))
    }

    /// A new destination becomes the staged directory in one rename; an
    /// existing one (a report rewritten, a directory with other files)
    /// takes each file by rename.
    func commit() throws(OutputError) {
        defer { Syscalls.removeTree(staging) }
        let whole: Errno
        do {
            return try Syscalls.rename(staging, to: destination)
        } catch {
            whole = error
        }
        guard Syscalls.isDirectory(destination) else { throw OutputError(path: destination, reason: whole.description) }
        for name in names {
            do {
                try Syscalls.rename(staging + "/" + name, to: destination + "/" + name)
            } catch {
                throw OutputError(path: destination + "/" + name, reason: error.description)
            }
        }
    }

    private static func makeTemporary(in parent: String, for destination: String) throws(OutputError) -> String {
        do {
            return try Syscalls.makeTemporaryDirectory(parent + "/.perfprobe-XXXXXX")
        } catch {
            throw OutputError(path: destination, reason: error.description)
        }
    }
}
