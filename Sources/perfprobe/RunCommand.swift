import ArgumentParser
import FoundationEssentials
import PerfProbeCore

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start a command and profile it, its threads and its children, from its first instruction.",
        discussion: "The command keeps the terminal. Exit status is 1 when it exits non-zero or dies of a signal. With --duration, profiling stops then and perfprobe still waits for the command."
    )

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var gates: GateOptions

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to profile after --, e.g. perfprobe run -- ./server") }
    }

    func run() throws {
        let started = Date()
        var options = sampling.profileOptions
        let progress = SamplingProgress()
        let announcements = Announcements(progress: progress, duration: options.duration)
        defer { announcements.status?.stop() }
        options.progress = announcements.status == nil ? nil : progress
        let launched = try ProfileSession.run(command: command, options: options, announce: announcements.say)
        announcements.status?.stop()
        let written = Result { try output.write(launched.report, started: started, gates: gates, announced: announcements.lines) }
        let outcome = launched.report.target.outcome.state == "running" ? launched.waitForExit() : launched.report.target.outcome
        if case .failure(var error as ReportNotWritten) = written {
            error.outcome = outcome
            PerfProbe.fail(error.message, code: 2)
        }
        let tripped = try written.get()
        if outcome.failed { PerfProbe.fail(outcome.description, code: 1) }
        if tripped { throw ExitCode(1) }
    }
}
