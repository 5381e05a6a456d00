import FoundationEssentials

/// One HTTP/1.1 request, as the sidecar's endpoints need it.
public struct HTTPRequest: Hashable, Sendable {
    public init(method: String, path: String, query: [String: String], body: [UInt8], authorization: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.authorization = authorization
    }

    public var method: String
    public var path: String
    public var query: [String: String]
    public var body: [UInt8]
    /// The Authorization header's value, if sent.
    public var authorization: String?

    public enum Parse: Hashable, Sendable {
        case complete(HTTPRequest)
        /// The head or body is not all there yet.
        case incomplete
        case malformed
        /// A Content-Length over `maxBodyBytes`.
        case tooLarge
    }

    /// The largest body any endpoint takes (a phase name is a few bytes).
    public static let maxBodyBytes = 16 * 1024

    /// Parses the bytes received so far. Pure: tested against fixtures.
    public static func parse(_ bytes: [UInt8]) -> Parse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = bytes.indices.dropLast(3).first(where: { bytes[$0..<$0 + 4].elementsEqual(separator) }) else {
            return .incomplete
        }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { return .malformed }
        var length = 0
        var authorization: String?
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return .malformed }
            switch parts[0].lowercased() {
            case "content-length":
                guard let value = Int(Self.unpadded(parts[1])), value >= 0 else { return .malformed }
                length = value
            case "authorization":
                authorization = String(Self.unpadded(parts[1]))
            default:
                break
            }
        }
        let bodyStart = headEnd + 4
        // The length is the client's word: compared, never added to.
        guard length <= maxBodyBytes else { return .tooLarge }
        guard bytes.count - bodyStart >= length else { return .incomplete }
        let target = requestLine[1].split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        for pair in (target.count > 1 ? target[1] : "").split(separator: "&") {
            // "=" alone splits into two empty parts, never none.
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return .complete(HTTPRequest(method: String(requestLine[0]), path: String(target.first ?? "/"), query: query,
                                     body: Array(bytes[bodyStart..<bodyStart + length]), authorization: authorization))
    }

    /// A header value without the blanks (spaces, tabs) around it.
    private static func unpadded(_ value: Substring) -> Substring {
        var value = value
        while value.first == " " || value.first == "\t" { value.removeFirst() }
        while value.last == " " || value.last == "\t" { value.removeLast() }
        return value
    }
}

/// A response: status, content type, body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    /// Extra header lines (`WWW-Authenticate: Bearer`, `Retry-After: 5`).
    public var headers: [String] = []

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8], headers: [String] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    public init(status: Int, text: String, headers: [String] = []) {
        self.init(status: status, body: Array(text.utf8), headers: headers)
    }

    var bytes: [UInt8] {
        let reasons = [200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
                       413: "Content Too Large", 429: "Too Many Requests", 503: "Service Unavailable"]
        let extra = headers.map { $0 + "\r\n" }.joined()
        let head = "HTTP/1.1 \(status) \(reasons[status] ?? "Status")\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\(extra)Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
