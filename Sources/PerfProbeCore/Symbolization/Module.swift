/// A mapped file (or pseudo-file such as `[vdso]`) that frames point into.
public struct Module: Hashable, Sendable, Codable {
    public var path: String
    public var inode: UInt64
    /// A process that maps it, to reach the file through /proc/PID/root when
    /// the target lives in another mount namespace.
    public var pid: ProcessID

    public init(path: String, inode: UInt64, pid: ProcessID) {
        self.path = path
        self.inode = inode
        self.pid = pid
    }

    public var name: String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
