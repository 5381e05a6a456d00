import ArgumentParser
import FoundationEssentials
import PerfProbeCore

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start a command and profile it, its threads and its children, from its first instruction.",
        discussion: "The command keeps the terminal. Exit status is 1 when it exits non-zero or dies of a signal. With --duration, profiling stops then and perfprobe still waits for the command. With --repeat N, each run's report goes to DIR/run-K/ and the merged one, with the runs' spread, to DIR."
    )

    @Option(name: .customLong("repeat"),
            help: ArgumentHelp("Run and profile the command this many times, one after the other.",
                               discussion: "The merged report shares every run's samples and gives each function's CPU seconds and the total CPU time with their run-to-run spread; a baseline made so gives --max-regression run-to-run noise to test against."))
    var repeats = 1

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var gates: GateOptions

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to profile after --, e.g. perfprobe run -- ./server") }
        guard (1...Self.maxRepeats).contains(repeats) else { throw ValidationError("--repeat must be 1 to \(Self.maxRepeats), got \(repeats)") }
    }

    static let maxRepeats = 1000

    func run() throws {
        if repeats > 1 { return try runRepeatedly() }
        let started = Date()
        let (launched, announced) = try profileOnce()
        let written = Result { try output.write(launched.report, started: started, gates: gates, announced: announced) }
        let outcome = launched.report.target.outcome.state == "running" ? launched.waitForExit() : launched.report.target.outcome
        if case .failure(var error as ReportNotWritten) = written {
            error.outcome = outcome
            PerfProbe.fail(error.message, code: 2)
        }
        let tripped = try written.get()
        if outcome.failed { PerfProbe.fail(outcome.description, code: 1) }
        if tripped { throw ExitCode(1) }
    }

    /// One run, with the live status line while it is profiled (on a
    /// terminal); what was said on stderr meanwhile.
    private func profileOnce() throws -> (launched: LaunchedRun, said: Set<String>) {
        var options = sampling.profileOptions
        let progress = SamplingProgress()
        let announcements = Announcements(progress: progress, duration: options.duration)
        defer { announcements.status?.stop() }
        options.progress = announcements.status == nil ? nil : progress
        return (try ProfileSession.run(command: command, options: options, announce: announcements.say), announcements.lines)
    }

    /// Each run profiled and written on its own after the command exits
    /// (the next starts only then), then the merged report, the summary and
    /// the gates. Exit 1 when any run failed or a gate tripped.
    private func runRepeatedly() throws {
        let started = Date()
        var reports: [ProfileReport] = []
        var directory = output.output
        var said = Set<String>()
        for number in 1...repeats {
            let (launched, announced) = try profileOnce()
            said.formUnion(announced)
            var report = launched.report
            if report.target.outcome.state == "running" { report.target.outcome = launched.waitForExit() }
            let base = directory ?? OutputOptions.defaultDirectory(pid: report.target.pid, started: started)
            directory = base
            let runDirectory = base + "/run-\(number)"
            do {
                try ReportFormats.write(&report, to: URL(fileURLWithPath: runDirectory), measuringAgent: true)
            } catch {
                PerfProbe.fail("\(error.description) (run \(number) of \(repeats)); \(report.target.outcome.description)", code: 2)
            }
            StandardStreams.error(String(printf: "perfprobe: run %d of %d: %@, %.3f s CPU, %d samples → %@\n", number, repeats,
                                         report.target.outcome.description, RepeatStatistics.cpuSeconds(report),
                                         report.profile.totalSamples, runDirectory))
            reports.append(report)
        }
        guard let merged = ProfileReport.merging(reports) else { return }
        var destination = output
        destination.output = directory
        let written = Result { try destination.write(merged, started: started, gates: gates, announced: said, measuringAgent: false) }
        if case .failure(let error as ReportNotWritten) = written { PerfProbe.fail(error.message, code: 2) }
        let tripped = try written.get()
        if let failed = reports.first(where: { $0.target.outcome.failed }) {
            PerfProbe.fail("\(merged.repeats?.failedRuns ?? 1) of \(repeats) runs failed, the first \(failed.target.outcome.description)", code: 1)
        }
        if tripped { throw ExitCode(1) }
    }
}
