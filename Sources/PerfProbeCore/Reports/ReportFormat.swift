import Dispatch
import FoundationEssentials

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
    /// Shows perfprobe's own CPU time and peak memory: rendered again once
    /// every file is, so the figures include making them.
    var showsAgentUsage: Bool { get }
}

extension ReportFormat {
    public var isResultsFile: Bool { false }
    public var showsAgentUsage: Bool { false }
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
        OffCPUFoldedFormat(),
        WallFoldedFormat(),
        OffCPUFlameGraphFormat(),
        PprofOffCPUFormat(),
        HTMLReportFormat(),
    ]

    /// Writes every format into `directory`, and the results files into
    /// `resultsDirectory` too. Everything is rendered and written into a
    /// temporary directory beside each destination first, then renamed into
    /// place: a failure (a full disk, a read-only file system) leaves no
    /// partial file behind, only what was there before.
    /// With `measuringAgent` (a profile just taken, not one read back),
    /// perfprobe's own usage in the files (and in `report`, for the summary
    /// said after) is measured once all are rendered: its peak memory is
    /// then what an outside measurement of the whole run sees.
    public static func write(_ report: inout ProfileReport, to directory: URL, resultsDirectory: URL? = nil,
                             formats: [any ReportFormat] = all, measuringAgent: Bool = false) throws(OutputError) {
        var files: [(name: String, data: Data, results: Bool)] = []
        // The formats are independent: rendered side by side on every CPU
        // (the target has ended, or runs on; either way the report is wanted soon).
        func render(_ formats: [any ReportFormat]) throws(OutputError) -> [Data?] {
            let rendered = Locked([Result<Data?, OutputError>](repeating: .success(nil), count: formats.count))
            let snapshot = report
            DispatchQueue.concurrentPerform(iterations: formats.count) { index in
                let format = formats[index]
                let result: Result<Data?, OutputError>
                do { result = .success(try format.render(snapshot)) } catch {
                    result = .failure(OutputError(path: format.fileName, reason: "cannot render: \(error)"))
                }
                rendered.withLock { $0[index] = result }
            }
            return try rendered.withLock { $0 }.map { result throws(OutputError) in try result.get() }
        }
        for (format, data) in zip(formats, try render(formats)) {
            if let data { files.append((format.fileName, data, format.isResultsFile)) }
        }
        if measuringAgent {
            report.agent = AgentUsage.measure()
            let showing = formats.filter(\.showsAgentUsage)
            for (format, data) in zip(showing, try render(showing)) {
                guard let position = files.firstIndex(where: { $0.name == format.fileName }), let data else { continue }
                files[position].data = data
            }
        }
        let staged = try OutputDirectory.stage(files.map { ($0.name, $0.data) }, into: directory.path)
        let stagedResults = try resultsDirectory.map { results throws(OutputError) in
            try OutputDirectory.stage(files.filter(\.results).map { ($0.name, $0.data) }, into: results.path)
        }
        try staged.commit()
        try stagedResults?.commit()
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
