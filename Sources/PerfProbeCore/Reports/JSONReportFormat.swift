import Foundation

/// report.json: the whole `ProfileReport`, keys in snake_case.
public struct JSONReportFormat: ReportFormat {
    public let fileName = "report.json"
    public let name = "json"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        try ReportJSON.encode(report)
    }

    public static func decode(_ data: Data) throws -> ProfileReport {
        try ReportJSON.decode(ProfileReport.self, from: data)
    }
}
