import ArgumentParser
import FoundationEssentials
import PerfProbeCore

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render the outputs of a saved run again from its report.json (and check gates against it).",
        discussion: "Writes into DIR unless --output is given. Exit status is 1 when a gate trips."
    )

    @OptionGroup var gates: GateOptions

    @Option(help: "Write here instead of DIR.")
    var output: String?

    @Option(help: "Also write the test-performance-*-results.json files here.")
    var resultsDir: String?

    @Option(parsing: .upToNextOption,
            help: "Only these formats: \(ReportFormats.all.map(\.name).joined(separator: ", ")) (default: all).")
    var format: [String] = []

    @Argument(help: "The output directory of an earlier run.")
    var directory: String

    func validate() throws {
        let known = Set(ReportFormats.all.map(\.name))
        if let unknown = format.first(where: { !known.contains($0) }) {
            throw ValidationError("unknown format '\(unknown)': choose from \(ReportFormats.all.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        let report = try SavedRun.load(directory)
        let formats = format.isEmpty ? ReportFormats.all : ReportFormats.all.filter { format.contains($0.name) }
        var destination = OutputOptions()
        destination.output = output ?? directory
        destination.resultsDir = resultsDir
        destination.summary = nil
        if try destination.write(report, started: Date(), gates: gates, formats: formats, summaryOnStandardOutput: true,
                                 measuringAgent: false) { throw ExitCode(1) }
    }
}
