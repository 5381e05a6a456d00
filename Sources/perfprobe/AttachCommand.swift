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

    @Argument(help: "The process id to profile.")
    var pid: Int32

    func validate() throws {
        guard pid > 0 else { throw ValidationError("the pid must be a positive number, got \(pid)") }
    }

    func run() throws {
        let started = Date()
        let announcements = Announcements()
        var options = sampling.profileOptions
        options.tree = tree
        let report = try ProfileSession.attach(pid: ProcessID(pid), options: options, announce: announcements.say)
        if try output.write(report, started: started, gates: gates, announced: announcements.lines) { throw ExitCode(1) }
    }
}
