import FoundationEssentials

/// How `top` runs besides the sampling options.
public struct TopOptions: Sendable {
    /// Seconds between refreshes.
    public var interval: Double
    /// Snapshots on stdout instead of a full screen (not a terminal, or TERM=dumb).
    public var plain: Bool
    /// Function rows per snapshot in plain mode.
    public var rows: Int
    /// Where a wrapped command's output goes; nil: /dev/null.
    public var commandOutput: String?
    /// `w`: writes the report set of what was sampled so far and says where (or why not).
    public var writeReport: @Sendable (ProfileReport) -> String

    public init(interval: Double = 1, plain: Bool, rows: Int = 20, commandOutput: String? = nil,
                writeReport: @escaping @Sendable (ProfileReport) -> String) {
        self.interval = interval
        self.plain = plain
        self.rows = rows
        self.commandOutput = commandOutput
        self.writeReport = writeReport
    }
}

/// `perfprobe top`: samples a process (attached, or a command started for
/// it) and shows, every interval, its hottest functions — full screen with
/// keys, or as plain snapshots on a pipe — until `q`, a stop signal, the
/// duration, or the target's exit. Each interval is a slice of the
/// sampler, merged by source line as the sidecar does, so memory grows
/// with the program's call paths, not with time.
public enum TopSession {
    public enum Target: Sendable {
        case process(ProcessID)
        case command([String])
    }

    /// Returns how the target ended (`running` when top ended first).
    public static func run(_ target: Target, options: ProfileOptions, top: TopOptions,
                           announce: @escaping @Sendable (String) -> Void) throws(SessionError) -> TargetOutcome {
        var options = options
        let progress = SamplingProgress()
        options.progress = progress
        // Notes while the screen is up wait for the bottom line.
        let screenUp = Locked(false)
        let notes = Locked<[String]>([])
        let note: @Sendable (String) -> Void = { line in
            if screenUp.withLock({ $0 }) { notes.withLock { $0.append(line) } } else { announce(line) }
        }
        let started = try Started.start(target, options: options, commandOutput: top.commandOutput, announce: note)
        var state = TopState(started: started, options: options, top: top, progress: progress)
        if top.plain {
            state.plainLoop()
        } else {
            do {
                let screen = try CursesScreen()
                screenUp.withLock { $0 = true }
                state.screenLoop(draw: { screen.draw($0) }, size: { screen.size }, key: { screen.key(waiting: $0) },
                                 notes: { notes.withLock { taken in defer { taken = [] }; return taken } })
                screenUp.withLock { $0 = false }
            } catch {
                _ = started.stop()
                throw .terminal(error.description)
            }
        }
        let (outcome, last) = started.stop()
        if outcome.state != TargetOutcome.running.state {
            state.add(last)
            // What the screen showed is gone with it: the whole run, once, as text.
            state.view = TopView()
            state.view.cumulative = true
            state.header.state = outcome.exitDescription
            let title = "— perfprobe top: pid \(state.header.pid) \(outcome.exitDescription); the whole run —"
            _ = StandardStreams.outputUnlessClosed(([title] + state.lines(.snapshot(rows: top.rows)).map(\.text)).joined(separator: "\n") + "\n")
        }
        return outcome
    }

    /// The sampler and how to stop it, for an attached process or a started command.
    struct Started: Sendable {
        let pid: ProcessID
        let name: String
        /// As reports name it: "attach" or "run".
        let mode: String
        let sampler: Sampler
        let configuration: SamplerConfiguration
        let startedAt: Date
        let latch: StopLatch
        /// Stops sampling (and a started command still running), says how
        /// the target ended and hands back what was sampled since the last slice.
        let stop: @Sendable () -> (TargetOutcome, Capture)

        static func start(_ target: Target, options: ProfileOptions, commandOutput: String?,
                          announce: @escaping @Sendable (String) -> Void) throws(SessionError) -> Started {
            let latch = StopLatch()
            switch target {
            case .process(let pid):
                let (sampler, configuration, stat, _) = try ProfileSession.startAttached(pid: pid, options: options, sidecar: true,
                                                                                         announce: announce) {
                    if !options.followsSeveral { latch.signal(.targetExited) }
                }
                listenForStopSignals(latch)
                return Started(pid: pid, name: stat.command, mode: "attach", sampler: sampler, configuration: configuration, startedAt: Date(), latch: latch) {
                    let last = sampler.finish()
                    return (latch.poll(seconds: 0) == .targetExited ? .gone : .running, last)
                }
            case .command(let command):
                let output: Int32
                do {
                    output = try Syscalls.openForAppending(commandOutput ?? "/dev/null", create: true)
                } catch {
                    throw .launch("cannot open \(commandOutput ?? "/dev/null") for the command's output", error)
                }
                defer { Syscalls.close(output) }
                let launched = try ProfileSession.launch(command: command, options: options, output: output, announce: announce)
                listenForStopSignals(launched.latch)
                return Started(pid: launched.pid, name: launched.name, mode: "run", sampler: launched.sampler, configuration: launched.configuration,
                               startedAt: launched.startedAt, latch: launched.latch) {
                    // Started for top, it ends with top.
                    if launched.exit.outcome == nil {
                        try? Syscalls.kill(launched.pid.rawValue, Syscalls.terminate)
                        if !launched.exit.wait(seconds: 3) { try? Syscalls.kill(launched.pid.rawValue, Syscalls.killSignal) }
                    }
                    let last = launched.finish()
                    return (launched.exit.wait(), last)
                }
            }
        }

        /// Ctrl-C (the terminal's, or sent) and SIGTERM/SIGHUP end top.
        private static func listenForStopSignals(_ latch: StopLatch) {
            Syscalls.startThread(named: "perfprobe-signal") {
                let (signal, _) = Syscalls.waitStopSignal()
                latch.signal(.interrupted(signal: signal))
            }
        }
    }
}
