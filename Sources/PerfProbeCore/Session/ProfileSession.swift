import Dispatch
import FoundationEssentials
import Synchronization

/// Runs one profiling session: starts or finds the target, samples it until
/// it exits, the duration passes or a stop signal arrives, and builds the report.
public enum ProfileSession {
    /// Starts `command` gated, opens sampling on it, lets it exec and samples
    /// it to the end. SIGINT/SIGTERM sent to perfprobe are forwarded to it.
    /// With a duration, profiling stops then and `waitForExit` (called after
    /// the report is written) waits for the command.
    /// `announce` gets, once each, what could not be seen while it happens.
    public static func run(command: [String], options: ProfileOptions,
                           announce: @escaping @Sendable (String) -> Void = { _ in }) throws(SessionError) -> LaunchedRun {
        let launched = try launch(command: command, options: options, announce: announce)
        Syscalls.startThread(named: "perfprobe-signal") {
            while true {
                let (signal, sender) = Syscalls.waitStopSignal()
                // A terminal's Ctrl-C already reached the whole process group.
                if sender != 0 { try? Syscalls.kill(launched.pid.rawValue, signal) }
            }
        }
        _ = launched.latch.wait(seconds: options.duration)
        let capture = launched.finish()
        let target = ProfileReport.Target(mode: "run", pid: launched.pid, command: command,
                                          name: capture.processNames[launched.pid] ?? launched.name,
                                          outcome: launched.exit.outcome ?? .running)
        let report = ProfileReport.build(capture: capture, target: target, configuration: launched.configuration,
                                         startedAt: launched.startedAt, perThread: options.perThread, symbols: options.symbols)
        return LaunchedRun(report: report, exit: launched.exit)
    }

    /// Starts `command` gated, opens sampling on it and lets it exec; its
    /// exit signals the latch. `output`: see `GatedChild`. Stop signals are
    /// blocked: the caller decides what they do.
    static func launch(command: [String], options: ProfileOptions, output: Int32? = nil,
                       announce: @escaping @Sendable (String) -> Void) throws(SessionError) -> LaunchedTarget {
        let path = try CommandLocator.resolve(command[0])
        var environment = ProcessInfo.processInfo.environment
        // run --heap's ring: the agent's end, and the one the command inherits.
        var heapRing = FileDescriptors()
        var heapRingFDs: (agent: Int32, child: Int32)?
        if options.heap {
            let library: String
            do {
                library = try HeapProbeLibrary.locate()
            } catch {
                throw .heapProbes(error)
            }
            do {
                let agent = heapRing.adopt(try HeapRing.create())
                heapRingFDs = (agent, heapRing.adopt(try Syscalls.duplicate(agent)))
            } catch {
                throw .launch("cannot create the heap probe's ring", error)
            }
            environment = HeapProbeLibrary.environment(environment, library: library, fd: heapRingFDs?.child ?? -1,
                                                       sampleBytes: options.heapSampleBytes)
        }
        Syscalls.blockStopSignals()
        let child: GatedChild
        do {
            child = try GatedChild(path: path, arguments: command, environment: environment, output: output)
        } catch {
            throw .launch("cannot start \(command[0])", error)
        }
        // The command has its end; the agent's closes after sampling.
        if let heapRingFDs { heapRing.close(heapRingFDs.child) }
        let pid = ProcessID(child.pid)
        let configuration = options.configuration(for: .launched(pid))
        let consumers = SamplingPipeline.consumers(for: configuration, heapChannel: heapRingFDs.map { ($0.agent, options.heapSampleBytes) },
                                                   progress: options.progress)
        let startedAt = Date()
        let sampler: Sampler
        do throws(SamplingError) {
            sampler = try Sampler.start(configuration, consumers: consumers, onNote: announce)
        } catch {
            child.cancel()
            _ = Syscalls.waitForExit(pid.rawValue)
            throw .sampling(error)
        }
        do {
            try child.open()
        } catch {
            _ = sampler.finish()
            _ = Syscalls.waitForExit(pid.rawValue)
            throw .commandNotExecutable(path, error)
        }
        let launched = LaunchedTarget(pid: pid, name: URL(fileURLWithPath: path).lastPathComponent, sampler: sampler,
                                      configuration: configuration, startedAt: startedAt)
        Syscalls.startThread(named: "perfprobe-wait") {
            let status = Syscalls.waitForEnd(pid.rawValue)
            launched.exit.set(status)
            launched.latch.signal(.targetExited)
            launched.sampled.wait()
            _ = Syscalls.waitForExit(pid.rawValue)
        }
        return launched
    }

    /// Samples a running process and its threads (present and future) until
    /// it exits, the duration passes, or SIGINT/SIGTERM/SIGHUP.
    /// `announce` receives one line about the allocator probes before sampling starts.
    public static func attach(pid: ProcessID, options: ProfileOptions,
                              announce: @escaping @Sendable (String) -> Void = { _ in }) throws(SessionError) -> ProfileReport {
        let latch = StopLatch()
        let startedAt = Date()
        let treeBefore = options.tree || options.followsSeveral ? nil : ProcessTreeUsage.read(pid)
        let (sampler, configuration, stat, _) = try startAttached(pid: pid, options: options, announce: announce) {
            // With --match or --cgroup the processes followed come and go.
            if !options.followsSeveral { latch.signal(.targetExited) }
        }
        let attachSeconds = ProcessStat.secondsSinceOwnStart()
        Syscalls.startThread(named: "perfprobe-signal") {
            let (signal, _) = Syscalls.waitStopSignal()
            latch.signal(.interrupted(signal: signal))
        }
        let reason = latch.wait(seconds: options.duration)
        var capture = sampler.finish()
        if let treeBefore, let hint = busyDescendants(of: pid, since: treeBefore, startedAt: startedAt) {
            announce(hint)
            capture.notes.append(hint)
        }
        let command = ProcessFinder.commandLine(of: pid)
        let target = ProfileReport.Target(mode: "attach", pid: pid, command: command,
                                          name: capture.processNames[pid] ?? stat.command,
                                          outcome: reason == .targetExited ? .gone : .running)
        var report = ProfileReport.build(capture: capture, target: target, configuration: configuration,
                                         startedAt: startedAt, perThread: options.perThread, symbols: options.symbols)
        report.attachSeconds = attachSeconds
        return report
    }
}

extension ProfileSession {
    /// The hint for a plain attach whose target was nearly idle while its
    /// descendants worked: nil otherwise.
    static func busyDescendants(of pid: ProcessID, since before: ProcessTreeUsage, startedAt: Date) -> String? {
        let seconds = max(Date().timeIntervalSince(startedAt), 0.001)
        let used = ProcessTreeUsage.read(pid).since(before, ticksPerSecond: Syscalls.clockTicksPerSecond())
        let own = used.own / seconds * 100, children = used.descendants / seconds * 100
        guard own < 10, children >= 50 else { return nil }
        return String(printf: "pid %d used %.0f%% of a CPU while its descendants used %.0f%%: add --tree to profile them too",
                      Int(pid.rawValue), own, children)
    }

    /// Checks that `pid` is a user process other than this one, blocks the
    /// stop signals (one thread takes them), sets up the allocator probes of
    /// --heap and starts sampling; `onTargetExit` is called when the target
    /// is found gone. `tracesAllocations`: the allocator probes are set.
    static func startAttached(pid: ProcessID, options: ProfileOptions, sidecar: Bool = false, announce: @escaping @Sendable (String) -> Void,
                              onTargetExit: @escaping @Sendable () -> Void) throws(SessionError)
        -> (Sampler, SamplerConfiguration, ProcessStat, tracesAllocations: Bool) {
        guard pid.rawValue > 0, Syscalls.processExists(pid.rawValue),
              let statBytes = try? Syscalls.readFile("/proc/\(pid)/stat"),
              let stat = ProcessStat.parse(Substring(decoding: statBytes, as: UTF8.self)), stat.state != "Z"
        else { throw .noSuchProcess(pid.rawValue) }
        if stat.isKernelThread { throw .notUserProcess(pid.rawValue, stat.command) }
        if pid.rawValue == Syscalls.currentProcessID() { throw .cannotProfileSelf }
        Syscalls.blockStopSignals()
        let raised = AgentPriority.raise()
        var configuration = options.configuration(for: .attached(pid))
        if sidecar { configuration.boundForSidecar() }
        configuration.tree = options.tree
        configuration.match = options.match
        configuration.cgroup = options.cgroup
        configuration.wholeCgroup = options.cgroup != nil
        configuration.perCPU = options.followsSeveral || options.tree || stat.threads >= ProfileOptions.perCPUThreads
        if configuration.perCPU { announce(perCPU(&configuration, pid: pid, threads: stat.threads)) }
        let probes = options.heap ? try heapProbes(pid: pid, options: options, announce: announce) : nil
        do {
            let sampler = try Sampler.start(configuration, consumers: SamplingPipeline.consumers(for: configuration, heapProbes: probes,
                                                                                                progress: options.progress),
                                            onTargetExit: onTargetExit, onNote: announce)
            if !raised { announce(AgentPriority.refusal) }
            return (sampler, configuration, stat, probes != nil)
        } catch {
            // Defined, but maybe never handed to a consumer that removes them.
            probes?.uprobes.removeAll()
            if case .targetGone = error { throw .noSuchProcess(pid.rawValue) }
            throw .sampling(error)
        }
    }

    /// Restricts per-CPU sampling to the target's own cgroup when that
    /// holds only processes it follows (so the kernel samples no other
    /// process), and says how it samples.
    static func perCPU(_ configuration: inout SamplerConfiguration, pid: ProcessID, threads: Int) -> String {
        let counters = "counters (task-clock, context switches) are not opened"
        if let cgroup = configuration.cgroup {
            return "sampling per CPU the tasks of cgroup \(cgroup) (the kernel filters): every process in it, those there now and those that join; \(counters)"
        }
        let why = configuration.tree ? "--tree" : configuration.match != nil ? "--match"
            : "\(threads) threads (per-thread events from \(ProfileOptions.perCPUThreads))"
        // --match takes processes wherever they start.
        if configuration.match == nil, let own = CgroupDirectory.of(pid), !own.isRoot {
            let followed = configuration.tree ? ProcessSelection.descendants(of: pid).union([pid]) : [pid]
            if Set(own.processes).isSubset(of: followed) {
                configuration.cgroup = own
                return "sampling per CPU for \(why), only the tasks of its cgroup \(own) (the kernel filters: no other process is sampled); \(counters)"
            }
        }
        return "sampling per CPU for \(why): every process on the machine is sampled and only the target's records are kept; \(counters)"
    }

    /// The allocator probes of an attached process, announced; nil (growth
    /// only, said why) when it maps no allocator perfprobe knows.
    static func heapProbes(pid: ProcessID, options: ProfileOptions, announce: (String) -> Void) throws(SessionError) -> HeapProbeSettings? {
        do {
            let probes = try heapProbes(pid: pid, options: options)
            announce(probes.description)
            return probes
        } catch .noAllocator(let pid, let known) {
            // A static binary or an unknown allocator: memory growth is still worth having.
            announce("allocations not traced, memory growth only: " + HeapProbeError.noAllocator(pid: pid, known: known).description)
            return nil
        } catch {
            throw .heapProbes(error)
        }
    }

    /// Finds the allocator of an attached process and measures what its probes cost.
    static func heapProbes(pid: ProcessID, options: ProfileOptions) throws(HeapProbeError) -> HeapProbeSettings {
        let uprobes = try TracefsUprobes.open()
        let definitions = try AllocatorDefinitionFiles.load(extra: options.allocatorFiles)
        let plan = try AllocatorProbePlan.make(pid: pid, mappings: MemoryMapping.read(of: pid),
                                               definitions: definitions)
        return HeapProbeSettings(plan: plan, events: try AllocatorProbeEvents(plan: plan, uprobes: uprobes), uprobes: uprobes, frequency: options.heapFrequency, window: options.heapWindow,
                                 armOnGrowth: options.heapArmOnGrowth,
                                 calibration: try ProbeCalibration.measure(plan: plan, uprobes: uprobes))
    }
}

/// A command started under sampling, running.
struct LaunchedTarget: Sendable {
    let pid: ProcessID
    /// Its executable's file name.
    let name: String
    let sampler: Sampler
    let configuration: SamplerConfiguration
    let startedAt: Date
    /// Signalled when it exits.
    let latch = StopLatch()
    let exit = ExitBox()
    /// It is reaped once sampling has read its final counts.
    fileprivate let sampled = DispatchSemaphore(value: 0)

    /// Stops sampling and returns the capture; the command may run on.
    func finish() -> Capture {
        let capture = sampler.finish()
        sampled.signal()
        return capture
    }
}

/// A finished `run` profile, and the command, which may still be running.
public struct LaunchedRun: Sendable {
    public var report: ProfileReport
    fileprivate let exit: ExitBox

    /// Waits for the command to exit and returns how it ended.
    public func waitForExit() -> TargetOutcome {
        exit.wait()
    }
}

/// The launched command's exit status, set by the thread that reaps it.
final class ExitBox: Sendable {
    private let status = Locked<TargetOutcome?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func set(_ wait: Syscalls.WaitStatus?) {
        let outcome: TargetOutcome
        if let signal = wait?.signal {
            outcome = TargetOutcome(state: "killed", exitCode: nil, signal: Syscalls.signalName(signal))
        } else {
            outcome = TargetOutcome(state: "exited", exitCode: wait?.exitCode ?? 0, signal: nil)
        }
        status.withLock { $0 = outcome }
        done.signal()
    }

    var outcome: TargetOutcome? { status.withLock { $0 } }

    func wait() -> TargetOutcome {
        done.wait()
        done.signal()
        return outcome ?? .gone
    }

    /// Whether it exited within `seconds`.
    func wait(seconds: Double) -> Bool {
        guard done.wait(timeout: .now() + seconds) == .success else { return false }
        done.signal()
        return true
    }
}
