import ArgumentParser
import Foundation
import PerfProbeCore

/// Where reports go.
struct OutputOptions: ParsableArguments {
    @Option(help: "Output directory (default: ./perfprobe-<pid>-<yyyymmdd-hhmmss>/).")
    var output: String?

    @Option(help: "Also write the test-performance-*-results.json files here.")
    var resultsDir: String?

    /// Checks the gates, writes every report format (and the results files
    /// to --results-dir), prints the summary and, on stderr, one line per
    /// tripped gate. Returns whether a gate tripped.
    func write(_ report: ProfileReport, started: Date, gates: GateOptions,
               formats: [any ReportFormat] = ReportFormats.all) throws -> Bool {
        var report = report
        let settings = try gates.settings()
        if !settings.isEmpty { report.gates = settings.evaluate(report) }
        let directory = output ?? Self.defaultDirectory(pid: report.target.pid, started: started)
        do {
            try ReportFormats.write(report, to: URL(fileURLWithPath: directory),
                                    resultsDirectory: resultsDir.map { URL(fileURLWithPath: $0) }, formats: formats)
        } catch {
            throw ValidationError("cannot write the report to \(directory): \(error.localizedDescription)")
        }
        print(SummaryText.render(report, outputDirectory: directory), terminator: "")
        for gate in report.gates ?? [] { FileHandle.standardError.write(Data("perfprobe: \(gate.message)\n".utf8)) }
        return !(report.gates ?? []).isEmpty
    }

    static func defaultDirectory(pid: ProcessID, started: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return "./perfprobe-\(pid)-\(formatter.string(from: started))"
    }
}
