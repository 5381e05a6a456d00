import ArgumentParser
import FoundationEssentials
import PerfProbeCore

struct SidecarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar",
        abstract: "Profile a process beside a load run: continuous sampling, load phases, live endpoints.",
        discussion: """
        Serves /metrics (Prometheus), /debug/pprof/profile?seconds=N (pprof), POST /phase {"name": "..."} and /healthz. \
        Stops when the process exits (with --match or --cgroup: waits for the next process of that name or cgroup instead), on Ctrl-C/SIGTERM, \
        after --duration, or when the load command given after -- exits; \
        then writes the overall report, one per phase under phases/NAME/, phases.json and windows.json. \
        With a load command, the exit status is the load command's.
        """
    )

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var gates: GateOptions

    @Option(help: "The process to profile.")
    var pid: Int32?

    @Option(help: "Profile the process with this name (its comm, or its command's file name); the oldest if several. When it exits, the next process of that name is attached, until the sidecar is stopped.")
    var match: String?

    @Flag(help: "Profile the target's descendants too: those alive at attach and those it starts (pre-fork servers).")
    var tree = false

    @Option(help: "Profile every process of this cgroup v2 (a container, a systemd unit) and of the cgroups below it, those in it now and those that join: a directory under a cgroup2 mount, or a path as /proc/PID/cgroup shows it. The kernel samples no other process.")
    var cgroup: String?

    @Option(help: "Where the endpoints listen, IPv4 HOST:PORT or localhost:PORT (port 0: any free one). Other than loopback needs --token-file.")
    var listen = "127.0.0.1:0"

    @Option(help: "A file (mode 600 or stricter) holding a bearer token: every endpoint but /healthz then wants 'Authorization: Bearer TOKEN'. Required to listen beyond loopback.")
    var tokenFile: String?

    @Option(help: "Seconds per window.")
    var window = 10.0

    @Option(help: "A file of load phases, one 'NAME OFFSET_SECONDS' per line.")
    var phases: String?

    @Option(help: "Push each window's CPU profile to this Pyroscope-compatible server (http://HOST:PORT; POST /ingest).")
    var push: String?

    @Argument(parsing: .postTerminator, help: "A load command to run (after --); profiling lasts as long as it does.")
    var loadCommand: [String] = []

    func validate() throws {
        try TargetChoice.validate(pid: pid, match: match, cgroup: cgroup, pidFlag: "--pid PID")
        guard window >= 1, window <= 86400 else { throw ValidationError("--window must be 1 to 86400 seconds, got \(window)") }
        guard let address = listenAddress else {
            throw ValidationError("--listen must be an IPv4 address or localhost, a colon and a port 0-65535 (e.g. 127.0.0.1:9090), got \(listen)")
        }
        if tokenFile == nil, !address.host.hasPrefix("127.") {
            throw ValidationError("--listen \(listen) is beyond loopback: give --token-file FILE (mode 600) so that only holders of the token can read the profiles")
        }
        if let tokenFile {
            do { _ = try BearerToken(file: tokenFile) } catch { throw ValidationError("--token-file \(tokenFile): \(error)") }
        }
        if let push, URLComponents(string: push)?.scheme != "http" || URLComponents(string: push)?.host == nil {
            throw ValidationError("--push must be an http://HOST[:PORT] URL, got \(push)")
        }
    }

    /// IPv4 dotted quad or `localhost` (127.0.0.1), and a port.
    private var listenAddress: (host: String, port: Int)? {
        let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port) else { return nil }
        if parts[0] == "localhost" { return ("127.0.0.1", port) }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ $0.count <= 3 && UInt8($0) != nil }) else { return nil }
        return (String(parts[0]), port)
    }

    func run() throws {
        var schedule: PhaseSchedule?
        if let phases {
            guard let text = try? String(contentsOfFile: phases, encoding: .utf8) else { throw ValidationError("cannot read --phases \(phases)") }
            do {
                schedule = try PhaseSchedule.parse(text)
            } catch {
                throw ValidationError("--phases \(phases), \(error)")
            }
        }
        let target = try TargetChoice.resolve(pid: pid, match: match, cgroup: cgroup)
        let address = listenAddress!
        let started = Date()
        let directory = output.output ?? OutputOptions.defaultDirectory(pid: target.pid, started: started)
        let announcements = Announcements()
        var options = sampling.profileOptions
        options.tree = tree
        options.match = match
        options.cgroup = target.cgroup
        let follow = target.cgroup.map(SidecarFollow.cgroup) ?? match.map(SidecarFollow.name)
        let result = try SidecarSession.run(
            pid: target.pid, options: options,
            sidecar: SidecarOptions(host: address.host, port: address.port, window: window, schedule: schedule,
                                    loadCommand: loadCommand, pushURL: push, windowsFile: directory + "/windows.jsonl",
                                    follow: follow, token: try tokenFile.map { path in
                                        do { return try BearerToken(file: path) } catch { throw ValidationError("--token-file \(path): \(error)") }
                                    }),
            announce: announcements.say)
        var destination = output
        destination.output = directory
        let tripped = try destination.write(result.overall, started: started, gates: gates, announced: announcements.lines)
        try writePhases(result, directory: directory)
        if let outcome = result.loadOutcome {
            if outcome.state == "killed" { PerfProbe.fail("load command \(outcome.description)", code: 1) }
            if let code = outcome.exitCode, code != 0 { throw ExitCode(code) }
        }
        if tripped { throw ExitCode(1) }
    }

    /// Each phase's reports under phases/NAME/, the phases side by side in
    /// phases.json and after the summary (the windows are in windows.jsonl already).
    private func writePhases(_ result: SidecarResult, directory: String) throws {
        let root = URL(fileURLWithPath: directory)
        var comparison: [PhaseComparison] = []
        for (name, phase) in result.phases {
            var report = phase
            try ReportFormats.write(&report, to: root.appendingPathComponent("phases").appendingPathComponent(name))
            comparison.append(PhaseComparison(report: report, phase: name))
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(comparison).write(to: root.appendingPathComponent("phases.json"), options: .atomic)
        var text = "\nphases:\n"
        for phase in comparison {
            let top = phase.hotspots.first.map { String(printf: "%@ %.1f%%", $0.function, $0.selfPercent) } ?? "-"
            text += String(printf: "  %@  %.1f s  CPU %.1f%%  RSS %+.0f B/s  top: %@\n", phase.phase, phase.seconds, phase.cpuPercent,
                           phase.rssGrowthBytesPerSecond, top)
        }
        try output.say(text, appending: true)
    }
}

/// One phase's figures, side by side with the others in phases.json.
struct PhaseComparison: Codable {
    var phase: String
    var seconds: Double
    var samples: Int
    var cpuPercent: Double
    var rssGrowthBytesPerSecond: Double
    var hotspots: [Hotspot]

    init(report: ProfileReport, phase: String) {
        self.phase = phase
        seconds = report.durationSeconds
        samples = report.profile.totalSamples
        cpuPercent = report.cpu.utilisationPercent ?? report.cpu.userPercent + report.cpu.systemPercent
        let rss = report.timeline.map { ($0.t, Double($0.rssBytes)) }
        rssGrowthBytesPerSecond = LinearFit(x: rss.map(\.0), y: rss.map(\.1))?.slope ?? 0
        hotspots = Array(report.hotspots.prefix(10))
    }
}
