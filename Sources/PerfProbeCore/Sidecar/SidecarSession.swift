import FoundationEssentials

/// How the sidecar runs besides the sampling options.
public struct SidecarOptions: Sendable {
    public var host: String
    public var port: Int
    /// Seconds per window.
    public var window: Double
    public var schedule: PhaseSchedule?
    /// A load tool to start as a child: profiling lasts exactly its lifetime.
    public var loadCommand: [String]
    /// Where to push each window's profile (Pyroscope's /ingest below it).
    public var pushURL: String?
    /// Where each window's summary is appended as a JSON line as it closes.
    public var windowsFile: String?
    /// With `--match` or `--cgroup`: what to attach to again when the
    /// process followed exits (the sidecar then runs until it is stopped).
    public var follow: SidecarFollow?
    /// With a token, every endpoint but /healthz wants `Authorization: Bearer TOKEN`.
    public var token: BearerToken?

    public init(host: String = "127.0.0.1", port: Int = 0, window: Double = 10, schedule: PhaseSchedule? = nil,
                loadCommand: [String] = [], pushURL: String? = nil, windowsFile: String? = nil, follow: SidecarFollow? = nil,
                token: BearerToken? = nil) {
        self.follow = follow
        self.token = token
        self.pushURL = pushURL
        self.windowsFile = windowsFile
        self.host = host
        self.port = port
        self.window = window
        self.schedule = schedule
        self.loadCommand = loadCommand
    }
}

/// What a sidecar run produced: the overall report, one per phase, and how
/// the load tool (if any) ended.
public struct SidecarResult: Sendable {
    public var overall: ProfileReport
    public var phases: [(name: String, report: ProfileReport)]
    public var loadOutcome: TargetOutcome?
}

/// `perfprobe sidecar`: attaches to a process and samples it continuously,
/// a one-second slice at a time, filing slices under the current load phase
/// and serving live endpoints, until the process exits, a stop signal
/// arrives, or the load tool it started exits.
public enum SidecarSession {
    public static let defaultPhase = "default"

    public static func run(pid: ProcessID, options: ProfileOptions, sidecar: SidecarOptions,
                           announce: @escaping @Sendable (String) -> Void) throws(SessionError) -> SidecarResult {
        let latch = StopLatch()
        let startedAt = Date()
        let following = SidecarTarget()
        let attach = { (pid: ProcessID) throws(SessionError) -> ProcessStat in
            let exited = SidecarTarget.ExitFlag()
            let (sampler, configuration, stat, tracesAllocations) = try ProfileSession.startAttached(
                pid: pid, options: options, sidecar: true, announce: announce
            ) {
                exited.set()
                // Without --match or --cgroup the sidecar ends with its process.
                if sidecar.follow == nil { latch.signal(.targetExited) }
            }
            following.attach(.init(pid: pid, sampler: sampler, configuration: configuration, tracesAllocations: tracesAllocations, exited: exited))
            return stat
        }
        let stat = try attach(pid)
        let configuration = following.current!.configuration
        let start = Syscalls.monotonicNanoseconds()
        let symbolizer = SharedSymbolizer(settings: options.symbols)
        let state = SidecarState(phase: sidecar.schedule?.phase(at: 0) ?? defaultPhase, windowsFile: sidecar.windowsFile,
                                 symbolizer: symbolizer)
        let name = stat.command
        let command = ProcessFinder.commandLine(of: pid)
        let target = ProfileReport.Target(mode: "sidecar", pid: pid, command: command, name: name, outcome: .running)
        let pusher = sidecar.pushURL.flatMap(ProfilePusher.init(url:))
        let endpoints = SidecarEndpoints(following: following, state: state, symbolizer: symbolizer, pusher: pusher, target: target,
                                         configuration: configuration, token: sidecar.token)
        let server: HTTPServer
        do {
            server = try HTTPServer(host: sidecar.host, port: sidecar.port) { endpoints.respond($0, client: $1) }
        } catch {
            _ = following.finish()
            throw .launch("cannot listen on \(sidecar.host):\(sidecar.port)", error)
        }
        defer { server.stop() }
        announce("sidecar on pid \(pid) (\(name)): http://\(sidecar.host):\(server.port)/metrics, /debug/pprof/profile, /phase, /healthz")

        Syscalls.startThread(named: "perfprobe-signal") {
            let (signal, _) = Syscalls.waitStopSignal()
            latch.signal(.interrupted(signal: signal))
        }
        // The kernel's symbols are read before the load starts: read at the
        // first slice, they took a third of a core from a 3-s load run.
        if configuration.includeKernel { _ = KernelSymbols.running }
        let load = try startLoad(sidecar.loadCommand, host: sidecar.host, port: server.port, token: sidecar.token, latch: latch)

        var windowStart = start
        var refused: Set<ProcessID> = []
        let elapsed = { Double(Syscalls.monotonicNanoseconds() - start) / 1e9 }
        // A slice a second, and one at each scheduled phase change, so that
        // each is filed under the phase it was taken in; while waiting for a
        // matched process to start again, a look five times a second.
        let nextChange = { (now: Double) in sidecar.schedule?.entries.map(\.offset).first { $0 > now } ?? .infinity }
        // Slices fall due on whole seconds from the start, however long the
        // work of one takes (a slow symbolization must not stretch the clock).
        var nextSlice = 1.0
        let pause = { following.current == nil ? 0.2 : nextSlice - elapsed() }
        while latch.poll(seconds: max(0.01, min(pause(), nextChange(elapsed()) - elapsed(), (options.duration ?? .infinity) - elapsed()))) == nil {
            if let slice = following.takeSlice() { state.add(slice) }
            while nextSlice <= elapsed() { nextSlice += 1 }
            if let follow = sidecar.follow {
                if let gone = following.current, gone.exited.isSet, let last = following.finish() {
                    state.add(last)
                    announce("pid \(gone.pid) exited; waiting for the next \(follow)")
                }
                if following.current == nil, let next = follow.next, !refused.contains(next) {
                    do {
                        _ = try attach(next)
                        announce("attached again: pid \(next), the next \(follow)")
                    } catch {
                        refused.insert(next)
                        announce("cannot attach to pid \(next), the next \(follow): \(error)")
                    }
                }
            }
            let now = elapsed()
            if let scheduled = sidecar.schedule?.phase(at: now), scheduled != state.phase { state.setPhase(scheduled) }
            if let limit = options.duration, now >= limit { latch.signal(.duration) }
            // Windows close on time too: the next starts where this one was due to end.
            while Double(Syscalls.monotonicNanoseconds() - windowStart) / 1e9 >= sidecar.window {
                summarizeWindow(state: state, since: windowStart, start: start, target: target, configuration: configuration,
                                symbolizer: symbolizer, pusher: pusher)
                windowStart += UInt64(sidecar.window * 1e9)
            }
        }
        // The report names the process followed last, and whether it is gone.
        var reported = target
        if let last = following.current {
            reported.pid = last.pid
            if last.exited.isSet { reported.outcome = .gone }
        } else {
            reported.outcome = .gone
        }
        if let last = following.finish() { state.add(last) }
        summarizeWindow(state: state, since: windowStart, start: start, target: target, configuration: configuration,
                        symbolizer: symbolizer, pusher: pusher)
        state.settle()
        if let lost = pusher?.finish(seconds: 5) { announce(lost) }
        let loadOutcome = load?.waitForExit()

        let build = { (capture: Capture) in
            symbolizer.report(capture, target: reported, configuration: configuration, startedAt: startedAt, perThread: options.perThread)
        }
        let phases = state.phaseCaptures
        var overall = phases.first?.capture ?? Capture()
        for phase in phases.dropFirst() { overall.absorb(phase.capture) }
        overall.counters = state.runCounters
        return SidecarResult(overall: build(overall), phases: phases.map { ($0.name, build($0.capture)) }, loadOutcome: loadOutcome)
    }

    /// Files the window's summary, and queues its profile for the pusher.
    private static func summarizeWindow(state: SidecarState, since: UInt64, start: UInt64, target: ProfileReport.Target,
                                        configuration: SamplerConfiguration, symbolizer: SharedSymbolizer, pusher: ProfilePusher?) {
        state.closeWindow(since: since) { capture, phase in
            let report = symbolizer.report(capture, target: target, configuration: configuration)
            if let pusher, let profile = try? PprofCPUFormat().render(report) {
                let until = Date().addingTimeInterval(-Double(Syscalls.monotonicNanoseconds() &- capture.endNanoseconds) / 1e9)
                pusher.enqueue(ProfilePusher.Window(name: "\(target.name).cpu{phase=\(phase)}",
                                                    from: until.addingTimeInterval(-capture.durationSeconds), until: until, profile: profile))
            }
            let cpu = capture.timeline.map { $0.cpuUserPercent + $0.cpuSystemPercent }
            state.addWindow(WindowSummary(phase: phase, start: Double(since - start) / 1e9,
                                          end: Double(capture.endNanoseconds - start) / 1e9, samples: capture.samples,
                                          cpuPercent: cpu.isEmpty ? 0 : cpu.reduce(0, +) / Double(cpu.count),
                                          rssBytes: capture.timeline.last?.rssBytes ?? 0, hotspots: Array(report.hotspots.prefix(5))))
        }
    }

    /// Starts the load tool, told the endpoint in PERFPROBE_SIDECAR_URL (and
    /// the token, if any, in PERFPROBE_SIDECAR_TOKEN); its exit ends profiling.
    private static func startLoad(_ command: [String], host: String, port: Int, token: BearerToken?,
                                  latch: StopLatch) throws(SessionError) -> LoadProcess? {
        guard let executable = command.first else { return nil }
        let path = try CommandLocator.resolve(executable)
        var environment = ProcessInfo.processInfo.environment
        environment["PERFPROBE_SIDECAR_URL"] = "http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(port)"
        environment["PERFPROBE_SIDECAR_TOKEN"] = token.map { String(decoding: $0.bytes, as: UTF8.self) }
        let pid: Int32
        do {
            let child = try GatedChild(path: path, arguments: command, environment: environment)
            pid = child.pid
            try child.open()
        } catch {
            throw .launch("cannot start \(executable)", error)
        }
        let exit = ExitBox()
        Syscalls.startThread(named: "perfprobe-wait") {
            exit.set(Syscalls.waitForExit(pid))
            latch.signal(.targetExited)
        }
        return LoadProcess(exit: exit)
    }

    private struct LoadProcess {
        let exit: ExitBox
        func waitForExit() -> TargetOutcome { exit.wait() }
    }
}
