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

    @Argument(help: "The process id to profile.")
    var pid: Int32

    func validate() throws {
        guard pid > 0 else { throw ValidationError("the pid must be a positive number, got \(pid)") }
    }

    func run() throws {
        let started = Date()
        let announcements = Announcements()
        let report = try ProfileSession.attach(pid: ProcessID(pid), options: sampling.profileOptions, announce: announcements.say)
        if try output.write(report, started: started, gates: gates, announced: announcements.lines) { throw ExitCode(1) }
    }
}
