import Foundation

/// One HTTP/1.1 request, as the sidecar's endpoints need it.
public struct HTTPRequest: Hashable, Sendable {
    public init(method: String, path: String, query: [String: String], body: [UInt8]) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }

    public var method: String
    public var path: String
    public var query: [String: String]
    public var body: [UInt8]

    public enum Parse: Hashable, Sendable {
        case complete(HTTPRequest)
        /// The head or body is not all there yet.
        case incomplete
        case malformed
    }

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
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return .malformed }
            if parts[0].lowercased() == "content-length" {
                guard let value = Int(parts[1].trimmingCharacters(in: .whitespaces)), value >= 0 else { return .malformed }
                length = value
            }
        }
        let bodyStart = headEnd + 4
        guard bytes.count >= bodyStart + length else { return .incomplete }
        let target = requestLine[1].split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        for pair in (target.count > 1 ? target[1] : "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            query[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return .complete(HTTPRequest(method: String(requestLine[0]), path: String(target.first ?? "/"), query: query,
                                     body: Array(bytes[bodyStart..<bodyStart + length])))
    }
}

/// A response: status, content type, body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public init(status: Int, text: String) {
        self.init(status: status, body: Array(text.utf8))
    }

    var bytes: [UInt8] {
        let reasons = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large",
                       503: "Service Unavailable"]
        let head = "HTTP/1.1 \(status) \(reasons[status] ?? "Status")\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
