/// A mapped file (or pseudo-file such as `[vdso]`) that frames point into.
public struct Module: Hashable, Sendable, Codable {
    public var path: String
    public var inode: UInt64
    /// A process that maps it, to reach the file through /proc/PID/root when
    /// the target lives in another mount namespace.
    public var pid: ProcessID
    /// The name of its first mapping in /proc/PID/map_files ("start-end"):
    /// the very file mapped, even if deleted or replaced on disk since.
    public var mapFile: String

    /// Anonymous executable memory (JIT code), per process.
    public static let jit = "[jit]"

    public init(path: String, inode: UInt64, pid: ProcessID, mapFile: String = "") {
        self.path = path
        self.inode = inode
        self.pid = pid
        self.mapFile = mapFile
    }

    /// Where its file can be read, best first: the mapped file itself, then
    /// by path inside the process's root, then by path here.
    var candidatePaths: [String] {
        (mapFile.isEmpty ? [] : ["/proc/\(pid)/map_files/\(mapFile)"]) + ["/proc/\(pid)/root\(path)", path]
    }

    public var name: String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
