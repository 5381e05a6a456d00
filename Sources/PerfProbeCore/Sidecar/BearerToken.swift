/// The sidecar's bearer token, read from a file only its owner can read.
public struct BearerToken: Sendable {
    let bytes: [UInt8]

    public enum LoadError: Error, CustomStringConvertible, Sendable {
        case unreadable(String)
        case tooOpen(mode: UInt32)
        case empty

        public var description: String {
            switch self {
            case .unreadable(let reason): reason
            case .tooOpen(let mode): "its mode is \(String(mode, radix: 8)); it must be 600 or stricter (chmod 600)"
            case .empty: "it holds no token"
            }
        }
    }

    /// The token is the file's first line, without surrounding white space.
    public init(file path: String) throws(LoadError) {
        let file: UntrustedFile
        do { file = try UntrustedFile(path: path) } catch { throw .unreadable(error.description) }
        let mode: UInt32
        do { mode = try Syscalls.fileMode(file.fd) } catch { throw .unreadable(error.description) }
        guard mode & 0o077 == 0 else { throw .tooOpen(mode: mode & 0o777) }
        let text: [UInt8]
        do { text = try file.read(at: 0, count: 4096) } catch { throw .unreadable(error.description) }
        let line = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).first ?? []
        let token = Array(line.drop { $0 == 32 || $0 == 9 || $0 == 13 }.reversed().drop { $0 == 32 || $0 == 9 || $0 == 13 }.reversed())
        guard !token.isEmpty else { throw .empty }
        bytes = token
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// Whether an Authorization header carries this token: compared in time
    /// that depends on the token's length only, not on where they differ.
    func accepts(authorization: String?) -> Bool {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return false }
        let given = Array(authorization.utf8.dropFirst(7))
        var difference = given.count == bytes.count ? 0 : 1
        for index in bytes.indices {
            difference |= Int(bytes[index] ^ (index < given.count ? given[index] : 0))
        }
        return difference == 0
    }
}
