import Foundation

/// One output file rendered from a report. Adding a format is one new
/// conforming type and one line in `ReportFormats.all`.
public protocol ReportFormat: Sendable {
    var fileName: String { get }
    func render(_ report: ProfileReport) throws -> Data
}

public enum ReportFormats {
    public static let all: [any ReportFormat] = [
        JSONReportFormat(),
        FoldedStacksFormat(),
    ]

    /// Writes every format into `directory` (created if needed); each file is
    /// written to a temporary name and renamed, so a reader never sees half.
    public static func write(_ report: ProfileReport, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for format in all {
            try format.render(report).write(to: directory.appendingPathComponent(format.fileName), options: .atomic)
        }
    }
}
