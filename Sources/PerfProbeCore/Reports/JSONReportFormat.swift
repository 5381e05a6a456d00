import Foundation

/// report.json: the whole `ProfileReport`, keys in snake_case.
public struct JSONReportFormat: ReportFormat {
    public let fileName = "report.json"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(report)
    }

    public static func decode(_ data: Data) throws -> ProfileReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ProfileReport.self, from: data)
    }
}
