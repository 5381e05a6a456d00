import Foundation

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
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: existing, isDirectory: &isDirectory) {
            let parent = (existing as NSString).deletingLastPathComponent
            existing = parent.isEmpty ? "." : parent
            if existing == "." || existing == "/" { break }
        }
        guard FileManager.default.fileExists(atPath: existing, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OutputError(path: path, reason: "\(existing) exists and is not a directory")
        }
        let probe = try makeTemporary(in: existing, for: path)
        rmdir(probe)
    }

    /// Writes `files` into a new staging directory for `destination`.
    static func stage(_ files: [(name: String, data: Data)], into destination: String) throws(OutputError) -> OutputDirectory {
        let parent = parentDirectory(of: destination)
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw OutputError(path: parent, reason: reason(error))
        }
        let staging = try makeTemporary(in: parent, for: destination)
        for file in files {
            let path = staging + "/" + file.name
            do {
                try file.data.withUnsafeBytes { try Syscalls.writeNewFile(path, $0) }
            } catch {
                try? FileManager.default.removeItem(atPath: staging)
                throw OutputError(path: destination + "/" + file.name, reason: (error as? Errno)?.description ?? "\(error)")
            }
        }
        return OutputDirectory(destination: destination, staging: staging, names: files.map(\.name))
    }

    /// A new destination becomes the staged directory in one rename; an
    /// existing one (a report rewritten, a directory with other files)
    /// takes each file by rename.
    func commit() throws(OutputError) {
        defer { try? FileManager.default.removeItem(atPath: staging) }
        if rename(staging, destination) == 0 { return }
        let fresh = errno
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: destination, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OutputError(path: destination, reason: Errno(fresh).description)
        }
        for name in names where rename(staging + "/" + name, destination + "/" + name) != 0 {
            throw OutputError(path: destination + "/" + name, reason: Errno(errno).description)
        }
    }

    private static func parentDirectory(of path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        let parent = (trimmed as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    private static func makeTemporary(in parent: String, for destination: String) throws(OutputError) -> String {
        var template = Array((parent + "/.perfprobe-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw OutputError(path: destination, reason: Errno(errno).description) }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func reason(_ error: Error) -> String {
        let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
        if let code = underlying.map({ Int32(truncatingIfNeeded: $0.code) }), underlying?.domain == NSPOSIXErrorDomain {
            return Errno(code).description
        }
        return error.localizedDescription
    }
}
