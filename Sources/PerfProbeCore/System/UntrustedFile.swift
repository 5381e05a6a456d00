/// Why a file from outside was not read.
public enum UntrustedFileError: Error, CustomStringConvertible, Sendable {
    case unreadable(Errno)
    /// A FIFO, device, directory or socket where a regular file belongs.
    case notRegular
    /// Owned by neither the target's user nor root: anyone could have planted it.
    case wrongOwner(UInt32)
    case tooLarge(size: UInt64, limit: Int)

    public var description: String {
        switch self {
        case .unreadable(let errno): "\(errno)"
        case .notRegular: "not a regular file"
        case .wrongOwner(let uid): "owned by uid \(uid), neither the target's user nor root"
        case .tooLarge(let size, let limit): "\(size) bytes, over the \(limit)-byte limit"
        }
    }
}

/// A file perfprobe reads but does not trust (a JIT's perf map, a saved
/// report): opened without following a final symlink or blocking on a
/// FIFO, checked to be a regular file with an expected owner, and read
/// only up to a limit. Owns its descriptor.
struct UntrustedFile: ~Copyable {
    private let descriptor: FileDescriptor
    let size: UInt64
    let device: UInt64
    let inode: UInt64
    var fd: Int32 { descriptor.raw }

    /// `owners`: the uids allowed to own it (nil: any).
    init(path: String, owners: Set<UInt32>? = nil) throws(UntrustedFileError) {
        let descriptor: FileDescriptor
        do { descriptor = FileDescriptor(try Syscalls.openUntrusted(path)) } catch { throw .unreadable(error) }
        let status: (regular: Bool, owner: UInt32, size: UInt64, device: UInt64, inode: UInt64)
        do { status = try Syscalls.fileStatus(descriptor.raw) } catch { throw .unreadable(error) }
        guard status.regular else { throw .notRegular }
        if let owners, !owners.contains(status.owner) { throw .wrongOwner(status.owner) }
        self.descriptor = descriptor
        size = status.size
        device = status.device
        inode = status.inode
    }

    /// Up to `count` bytes from `offset` (fewer at the end of the file).
    func read(at offset: Int, count: Int) throws(UntrustedFileError) -> [UInt8] {
        do { return try Syscalls.read(descriptor.raw, at: offset, count: count) } catch { throw .unreadable(error) }
    }

    /// The whole file, refused past `maxBytes`.
    static func readAll(_ path: String, maxBytes: Int) throws(UntrustedFileError) -> [UInt8] {
        let file = try UntrustedFile(path: path)
        guard file.size <= UInt64(maxBytes) else { throw .tooLarge(size: file.size, limit: maxBytes) }
        // One byte more than the limit tells a file that grew meanwhile.
        let bytes = try file.read(at: 0, count: maxBytes + 1)
        guard bytes.count <= maxBytes else { throw .tooLarge(size: UInt64(bytes.count), limit: maxBytes) }
        return bytes
    }
}
