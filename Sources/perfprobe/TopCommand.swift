import ArgumentParser
import FoundationEssentials
import PerfProbeCore

struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show a process's hottest functions live, refreshed every interval.",
        discussion: """
        On a terminal: a full screen. Keys: q or Ctrl-C quit; s / t sort by self / total; c since the start or the last interval; \
        k hide or show kernel frames; p a row per thread (←/→ choose one thread); / filter by a regular expression (Enter applies, \
        an empty one clears); space freeze the display while sampling goes on; w write the report files of what was sampled so far \
        (as attach writes them, to --output). Not a terminal (a pipe, TERM=dumb): a plain-text snapshot every interval, like top -b. \
        A command given after -- is started for top and ends with it (SIGTERM when top quits first); its stdin is /dev/null and \
        its output goes to --command-output (discarded by default), so that it does not write over the screen: use run to keep \
        its output. When the target exits, the whole run's table is printed as text. Exit status 0 unless top cannot start (2).
        """
    )

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Seconds between refreshes.")
    var interval: Double = 1

    @Option(help: "Function rows in each plain-text snapshot.")
    var rows = 20

    @Option(help: "Profile every process with this name (its comm, or its command's file name), those running and those started later.")
    var match: String?

    @Option(help: "With a command: the file its stdout and stderr are appended to (default: discarded).")
    var commandOutput: String?

    @Argument(help: "The process id to watch (or a command after --).")
    var pid: Int32?

    @Argument(parsing: .postTerminator, help: "A command to start and watch, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty {
            try TargetChoice.validate(pid: pid, match: match, cgroup: nil, pidFlag: "PID")
        } else if pid != nil || match != nil {
            throw ValidationError("give the target with exactly one of PID, --match NAME or -- COMMAND")
        }
        guard interval.isFinite, interval >= 0.1, interval <= 3600 else {
            throw ValidationError("--interval must be 0.1 to 3600 seconds, got \(interval)")
        }
        guard (1...10_000).contains(rows) else { throw ValidationError("--rows must be 1 to 10000, got \(rows)") }
        if commandOutput != nil, command.isEmpty { throw ValidationError("--command-output is for a command given after --") }
    }

    func run() throws {
        let started = Date()
        var options = sampling.profileOptions
        options.match = match
        let plain = !Terminal.isInteractive(1) || !Terminal.isInteractive(0)
        let output = self.output
        let top = TopOptions(interval: interval, plain: plain, rows: rows, commandOutput: commandOutput) { report in
            var report = report
            let directory = output.output ?? OutputOptions.defaultDirectory(pid: report.target.pid, started: started)
            do {
                try ReportFormats.write(&report, to: URL(fileURLWithPath: directory),
                                        resultsDirectory: output.resultsDir.map { URL(fileURLWithPath: $0) }, measuringAgent: true)
                return "report written to \(directory)"
            } catch {
                return "cannot write the report: \(error)"
            }
        }
        let target: TopSession.Target
        if command.isEmpty {
            target = .process(try TargetChoice.resolve(pid: pid, match: match, cgroup: nil).pid)
        } else {
            target = .command(command)
        }
        _ = try TopSession.run(target, options: options, top: top) { StandardStreams.error("perfprobe: \($0)\n") }
    }
}
