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

    @Option(help: "Profile every process of this cgroup v2 (a container, a systemd unit) and of the cgroups below it: those in it now and those that join, until Ctrl-C or --duration. A directory under a cgroup2 mount, or a path as /proc/PID/cgroup shows it. Samples per CPU; the kernel samples no other process.")
    var cgroup: String?

    @Argument(help: "The process id to profile.")
    var pid: Int32?

    func validate() throws {
        try TargetChoice.validate(pid: pid, match: match, cgroup: cgroup, pidFlag: "PID")
    }

    func run() throws {
        let started = Date()
        var options = sampling.profileOptions
        let progress = SamplingProgress()
        let announcements = Announcements(progress: progress, duration: options.duration)
        defer { announcements.status?.stop() }
        options.progress = announcements.status == nil ? nil : progress
        options.tree = tree
        options.match = match
        let target = try TargetChoice.resolve(pid: pid, match: match, cgroup: cgroup)
        options.cgroup = target.cgroup
        let report = try ProfileSession.attach(pid: target.pid, options: options, announce: announcements.say)
        announcements.status?.stop()
        if try output.write(report, started: started, gates: gates, announced: announcements.lines) { throw ExitCode(1) }
    }
}
