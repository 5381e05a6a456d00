import ArgumentParser
import FoundationEssentials
import PerfProbeCore

/// Where reports go.
struct OutputOptions: ParsableArguments {
    @Option(help: "Output directory (default: ./perfprobe-<pid>-<yyyymmdd-hhmmss>/).")
    var output: String?

    @Option(help: "Also write the test-performance-*-results.json files here.")
    var resultsDir: String?

    @Option(help: ArgumentHelp("Write the summary to this file instead of stderr.",
                               discussion: "run, attach and sidecar never write to stdout: it belongs to the command."))
    var summary: String?

    /// Before the target starts: every directory a report will go to can be
    /// written (the default one is made in the current directory).
    func validate() throws {
        do {
            try OutputDirectory.checkWritable(output ?? ".")
            if let resultsDir { try OutputDirectory.checkWritable(resultsDir) }
        } catch {
            throw ValidationError("\(error.description.replacing("cannot write \"\"", with: "--output")): choose another --output or --results-dir")
        }
        if let summary {
            do throws(OutputError) {
                guard !summary.isEmpty, !FileSystem.isDirectory(summary) else {
                    throw OutputError(path: summary.isEmpty ? "\"\"" : summary, reason: "it is not a file name")
                }
                try OutputDirectory.checkWritable(FileSystem.parentPath(summary))
            } catch {
                throw ValidationError("--summary: \(error.description)")
            }
        }
    }

    /// Writes summary text where it goes: the --summary file (the first
    /// text of a run replaces it, later ones append), else stderr, or stdout
    /// for `report` and `diff`, whose output it is.
    func say(_ text: String, onStandardOutput: Bool = false, appending: Bool = false) throws(OutputError) {
        guard let summary else {
            if onStandardOutput { StandardStreams.output(text) } else { StandardStreams.error(text) }
            return
        }
        do {
            if appending && FileSystem.exists(summary) {
                try FileSystem.append(summary, Array(text.utf8))
            } else {
                try FileSystem.replace(summary, with: Array(text.utf8))
            }
        } catch {
            throw OutputError(path: summary, reason: error.description)
        }
    }

    /// Checks the gates, writes every report format (and the results files
    /// to --results-dir), says the summary (`say`) and, on stderr, one line
    /// per tripped gate. Returns whether a gate tripped.
    /// `measuringAgent`: `report` was just taken (not read back), so the
    /// agent's own usage is measured after the files are made.
    func write(_ report: ProfileReport, started: Date, gates: GateOptions,
               formats: [any ReportFormat] = ReportFormats.all, summaryOnStandardOutput: Bool = false,
               announced: Set<String> = [], measuringAgent: Bool = true) throws -> Bool {
        var report = report
        let settings = try gates.settings()
        if !settings.isEmpty { report.gates = settings.evaluate(report) }
        let directory = output ?? Self.defaultDirectory(pid: report.target.pid, started: started)
        var failure: OutputError?
        do {
            try ReportFormats.write(&report, to: URL(fileURLWithPath: directory),
                                    resultsDirectory: resultsDir.map { URL(fileURLWithPath: $0) }, formats: formats,
                                    measuringAgent: measuringAgent)
        } catch {
            failure = error
        }
        // The summary is said even when the files could not be written.
        do {
            // Notes said on stderr as they happened are not said there again.
            let said = summary == nil && !summaryOnStandardOutput ? announced : []
            try say(SummaryText.render(report, outputDirectory: failure == nil ? directory : nil, skippingNotes: said),
                    onStandardOutput: summaryOnStandardOutput)
        } catch {
            failure = failure ?? error
        }
        for gate in report.gates ?? [] { StandardStreams.error("perfprobe: \(gate.message)\n") }
        if let failure { throw ReportNotWritten(failure: failure, outcome: report.target.outcome) }
        return !(report.gates ?? []).isEmpty
    }

    static func defaultDirectory(pid: ProcessID, started: Date) -> String {
        "./perfprobe-\(pid)-\(FileSystem.timestamp(started))"
    }
}

/// The report could not be written after profiling: exit 2, one line that
/// also says how the target ended.
struct ReportNotWritten: Error {
    var failure: OutputError
    var outcome: TargetOutcome

    var message: String {
        "\(failure.description) (nothing was written)" + (outcome.state == "running" ? "" : "; \(outcome.description)")
    }
}
