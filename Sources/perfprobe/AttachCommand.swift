import ArgumentParser
import FoundationEssentials
import PerfProbeCore

struct AttachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Profile a running process and all its threads until Ctrl-C, --duration, or its exit."
    )

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var gates: GateOptions

    @Flag(help: "Profile the process's descendants too: those alive now and those it starts (pre-fork servers, a shell around the real program). Samples per CPU, as for a process with many threads.")
    var tree = false

    @Option(help: "Profile every process with this name (its comm, or its command's file name): those running and those started later, until Ctrl-C or --duration. Samples per CPU.")
    var match: String?

    @Argument(help: "The process id to profile.")
    var pid: Int32?

    func validate() throws {
        guard (pid == nil) != (match == nil) else { throw ValidationError("give the target with exactly one of PID or --match NAME") }
        if let pid, pid <= 0 { throw ValidationError("the pid must be a positive number, got \(pid)") }
    }

    func run() throws {
        let started = Date()
        let announcements = Announcements()
        var options = sampling.profileOptions
        options.tree = tree
        options.match = match
        let target = try TargetChoice.resolve(pid: pid, match: match)
        let report = try ProfileSession.attach(pid: target, options: options, announce: announcements.say)
        if try output.write(report, started: started, gates: gates, announced: announcements.lines) { throw ExitCode(1) }
    }
}
