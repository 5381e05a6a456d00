import FoundationEssentials

/// report.json: the whole `ProfileReport`, keys in snake_case.
public struct JSONReportFormat: ReportFormat {
    public let fileName = "report.json"
    public let showsAgentUsage = true
    public let name = "json"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        try ReportJSON.encode(report)
    }

    public static func decode(_ data: Data) throws -> ProfileReport {
        try ReportJSON.decode(ProfileReport.self, from: data)
    }

    /// A saved report.json: size-capped, decoded, validated (see `validated()`).
    public static func load(_ path: String, maxBytes: Int) throws -> ProfileReport {
        try decode(Data(UntrustedFile.readAll(path, maxBytes: maxBytes))).validated()
    }

    /// One line for a decoding failure: the field's JSON path and what was wrong.
    public static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { path, key in
                if let index = key.intValue { return path + "[\(index)]" }
                return path.isEmpty ? key.stringValue : path + "." + key.stringValue
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON (\(context.debugDescription))"
                : "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
