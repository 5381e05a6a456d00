import ArgumentParser
import Foundation
import PerfProbeCore

/// Where reports go.
struct OutputOptions: ParsableArguments {
    @Option(help: "Output directory (default: ./perfprobe-<pid>-<yyyymmdd-hhmmss>/).")
    var output: String?

    @Option(help: "Also write the test-performance-*-results.json files here.")
    var resultsDir: String?

    /// Writes every report format (and the results files to --results-dir),
    /// then prints the summary.
    func write(_ report: ProfileReport, started: Date) throws {
        let directory = output ?? Self.defaultDirectory(pid: report.target.pid, started: started)
        do {
            try ReportFormats.write(report, to: URL(fileURLWithPath: directory),
                                    resultsDirectory: resultsDir.map { URL(fileURLWithPath: $0) })
        } catch {
            throw ValidationError("cannot write the report to \(directory): \(error.localizedDescription)")
        }
        print(SummaryText.render(report, outputDirectory: directory), terminator: "")
    }

    static func defaultDirectory(pid: ProcessID, started: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return "./perfprobe-\(pid)-\(formatter.string(from: started))"
    }
}
