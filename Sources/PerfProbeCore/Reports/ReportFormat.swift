import Foundation

/// One output file rendered from a report. Adding a format is one new
/// conforming type and one line in `ReportFormats.all`.
public protocol ReportFormat: Sendable {
    var fileName: String { get }
    /// What `perfprobe report --format` calls it.
    var name: String { get }
    /// A results file a performance-test pipeline reads: also written to --results-dir.
    var isResultsFile: Bool { get }
    /// Nil when the report has nothing for this format (memory without --heap).
    func render(_ report: ProfileReport) throws -> Data?
}

extension ReportFormat {
    public var isResultsFile: Bool { false }
}

public enum ReportFormats {
    public static let all: [any ReportFormat] = [
        JSONReportFormat(),
        FoldedStacksFormat(),
        MemoryResultsFormat(),
        CPUResultsFormat(),
        SpeedscopeFormat(),
        FlameGraphFormat(),
        PprofCPUFormat(),
        PprofHeapFormat(),
        HTMLReportFormat(),
    ]

    /// Writes every format into `directory` (created if needed), and the
    /// results files into `resultsDirectory` too; each file is written to a
    /// temporary name and renamed, so a reader never sees half of one.
    public static func write(_ report: ProfileReport, to directory: URL, resultsDirectory: URL? = nil,
                             formats: [any ReportFormat] = all) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let resultsDirectory { try FileManager.default.createDirectory(at: resultsDirectory, withIntermediateDirectories: true) }
        for format in formats {
            guard let data = try format.render(report) else { continue }
            try data.write(to: directory.appendingPathComponent(format.fileName), options: .atomic)
            if format.isResultsFile, let resultsDirectory {
                try data.write(to: resultsDirectory.appendingPathComponent(format.fileName), options: .atomic)
            }
        }
    }
}

/// perfprobe's JSON files: snake_case keys, sorted and indented.
enum ReportJSON {
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: data)
    }
}
