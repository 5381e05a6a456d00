/// A module's ELF file opened once for the whole agent: the unwinder, the
/// symbolizer and the sidecar's windows read the same handle and mapping.
/// libelf fills its caches lazily and is not thread-safe, so each use holds
/// the file's lock; `bytes` (the file as mapped) is read without it, and
/// stays valid while the object lives. A file is found again by path while
/// someone holds it and the path still names the same file (device, inode).
final class SharedElfFile: @unchecked Sendable {
    let path: String
    /// The whole file's bytes, as libelf mapped them.
    let bytes: UnsafeRawBufferPointer
    private let identity: FileIdentity?
    private let file: Locked<ElfFile>

    private struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    private init(path: String, identity: FileIdentity?, file: consuming ElfFile) {
        self.path = path
        self.identity = identity
        bytes = file.rawBytes
        self.file = Locked(file)
    }

    /// An ELF image in memory (the vDSO's), not shared.
    convenience init(image: [UInt8], name: String) throws(ElfError) {
        self.init(path: name, identity: nil, file: try ElfFile(bytes: image, name: name))
    }

    /// Reads the file under its lock.
    func read<Result>(_ body: (borrowing ElfFile) -> Result) -> Result {
        file.withLock { body($0) }
    }

    private final class Entry: @unchecked Sendable {
        weak var file: SharedElfFile?
        init(_ file: SharedElfFile) { self.file = file }
    }

    /// Open files by path, held weakly: a file closes when its last user lets go.
    private static let open = Locked<[String: Entry]>([:])

    /// The open file at `path`, or the file opened now.
    static func open(_ path: String) throws(ElfError) -> SharedElfFile {
        let identity = Syscalls.fileIdentity(path).map { FileIdentity(device: $0.device, inode: $0.inode) }
        if let identity, let known = open.withLock({ $0[path]?.file }), known.identity == identity { return known }
        let file = SharedElfFile(path: path, identity: identity, file: try ElfFile(path: path))
        open.withLock { table in
            if table.count >= 256 { table = table.filter { $0.value.file != nil } }
            table[path] = Entry(file)
        }
        return file
    }
}
