/// The canonical result of a run: everything every output format is
/// rendered from, and what report.json holds (keys in snake_case).
public struct ProfileReport: Codable, Sendable {
    public struct Target: Codable, Sendable {
        /// "run", "attach" or "sidecar".
        public var mode: String
        public var pid: ProcessID
        public var command: [String]
        public var name: String
        public var outcome: TargetOutcome

        /// The name and an attached process's command line are the target's words: sanitized.
        init(mode: String, pid: ProcessID, command: [String], name: String, outcome: TargetOutcome) {
            self.mode = mode
            self.pid = pid
            self.command = command.map(SymbolName.sanitized)
            self.name = SymbolName.sanitized(name)
            self.outcome = outcome
        }
    }

    public struct Sampling: Codable, Sendable {
        public var event: String
        public var frequencyHz: Int
        public var includeKernel: Bool
        /// How user stacks were walked: "auto", "dwarf" or "fp".
        public var unwind: String
        /// Bytes of user stack copied per sample (0 with frame pointers).
        public var stackSizeBytes: UInt32
        /// What the events were opened on: "threads" (each followed thread,
        /// inherited by those it creates), "every_task" (per CPU, the
        /// target's records kept) or "cgroup" (per CPU, the kernel samples
        /// only `cgroup`'s tasks). Absent from older reports.
        public var events: String?
        /// The cgroup v2 path sampling was restricted to, with "cgroup".
        public var cgroup: String?
    }

    /// How complete the stacks are: what a reader should trust.
    public struct StackQuality: Codable, Sendable {
        /// Samples whose stack's outermost frame is a thread's first frame
        /// (`_start`, `clone3`, `runtime.goexit`…: `threadEntries`), decided
        /// from the frames themselves, so it can be recomputed from the stacks.
        public var unwoundToRootPercent: Double
        /// Continued past the end of the stack copy by the frame-pointer chain.
        public var splicedPercent: Double
        /// Cut at the end of the stack copy (see --stack-size).
        public var truncatedPercent: Double
        /// Ended by an unwind error (no CFI for the code, or CFI leading outside the copy).
        public var unwindErrorPercent: Double
        /// Walked by frame pointers only (--unwind fp, or DWARF could not start).
        public var framePointerPercent: Double
        /// Of all frames of all samples, those no symbol covered.
        public var unsymbolizedFramesPercent: Double
        public var lostSamples: UInt64
        public var meanUnwindMicroseconds: Double
        public var modulesWithoutUnwindInfo: [String]
        public var modulesWithoutSymbols: [String]
    }

    public struct SampleCounts: Codable, Sendable {
        public var total: Int
        public var lostRecords: UInt64
        public var lostSamples: UInt64
        public var throttleEvents: Int
        /// Sampling per CPU over every task: samples of other processes the
        /// kernel took and the agent discarded (what sampling cost the rest
        /// of the machine). Absent otherwise.
        public var otherProcesses: Int?
    }

    public struct CPUUsage: Codable, Sendable {
        /// task-clock over wall time, in % of one core; nil without the counter.
        public var utilisationPercent: Double?
        /// Means of the /proc timeline (main process), in % of one core.
        public var userPercent: Double
        public var systemPercent: Double
    }

    public struct Thread: Codable, Sendable {
        public var pid: ProcessID
        public var tid: ThreadID
        public var name: String
        public var samples: Int
        public var percent: Double
        /// 95% Wilson interval of `percent` (nil in reports of earlier versions).
        public var interval: ConfidenceInterval? = nil
    }

    public struct ThreadHotspots: Codable, Sendable {
        public var tid: ThreadID
        public var name: String
        public var hotspots: [Hotspot]
    }

    public var version = 1
    public var target: Target
    public var sampling: Sampling
    /// Wall-clock start, ISO 8601.
    public var startedAt: String
    public var durationSeconds: Double
    /// attach, sidecar: seconds from perfprobe's start (its process's, so
    /// loading included) until sampling ran; not part of `durationSeconds`.
    public var attachSeconds: Double?
    public var samples: SampleCounts
    public var cpu: CPUUsage
    public var processes: [Thread]
    public var threads: [Thread]
    /// Every sampled function, most self time first.
    public var hotspots: [Hotspot]
    /// The 50 functions with the most total (inclusive) time, as perf
    /// report's children view orders them: where a split lies in callers
    /// (nil in reports of earlier versions).
    public var hotspotsByTotal: [Hotspot]?
    public var threadHotspots: [ThreadHotspots]
    /// The hottest source lines of the top functions (nil without DWARF
    /// lines, and in reports of earlier versions).
    public var hotLines: [HotLines]? = nil
    public var timeline: [TelemetryPoint]
    public var counters: [CounterReading]
    public var stackQuality: StackQuality
    /// With --heap: the memory timeline and its growth verdict.
    public var memory: MemoryReport?
    /// With `run --heap`: sampled allocations by stack.
    public var heap: HeapReport?
    /// With --off-cpu: where threads waited, by stack and reason. (Spelt
    /// so that snake_case keys decode back: `off_cpu`.)
    public var offCpu: OffCPUReport? = nil
    /// What profiling cost: perfprobe's own CPU time and peak memory.
    public var agent: AgentUsage
    /// Modules that could not be read for symbols, with the reason.
    public var unreadableModules: [String: String]
    public var profile: Profile
    /// The files frames are in (nil in reports of earlier versions).
    public var modules: [ReportModule]?
    /// CI gates that tripped (nil when none were set).
    public var gates: [TrippedGate]?
    /// What perfprobe could not see, and why (a perf map refused, a target
    /// the kernel would not sample, threads too short-lived to be sampled).
    public var notes: [String]? = nil
    /// `run --repeat N`: how the runs differed (nil for a single run).
    public var repeats: RepeatStatistics? = nil
}

extension ProfileReport {
    /// Each thread's name, from the CPU threads and the off-CPU ones.
    public var threadNames: [ThreadID: String] {
        var names = Dictionary(threads.map { ($0.tid, $0.name) }, uniquingKeysWith: { first, _ in first })
        for thread in offCpu?.threads ?? [] where names[thread.tid] == nil { names[thread.tid] = thread.name }
        return names
    }
}

public struct MemoryReport: Codable, Sendable {
    public var timeline: [MemoryPoint]
    public var growth: MemoryGrowth
    /// The highest VmHWM seen: the process's peak resident size.
    public var peakRssBytes: UInt64

    public init(timeline: [MemoryPoint]) {
        self.timeline = timeline
        growth = MemoryGrowth.analyze(timeline)
        peakRssBytes = timeline.map(\.peakRssBytes).max() ?? 0
    }
}

public struct AgentUsage: Codable, Sendable {
    /// User plus system CPU seconds of the perfprobe process, up to the report.
    public var cpuSeconds: Double
    /// Peak resident memory of the perfprobe process (VmHWM).
    public var peakRssBytes: UInt64

    /// Measures the calling process.
    public static func measure() -> AgentUsage {
        let status = (try? Syscalls.readFile("/proc/self/status")).map { KeyValueFile.parse($0) }
        return AgentUsage(cpuSeconds: Syscalls.ownCPUSeconds(), peakRssBytes: status?["VmHWM"] ?? 0)
    }
}

/// How the target ended, as far as perfprobe knows.
public struct TargetOutcome: Codable, Hashable, Sendable {
    /// "exited", "killed", "running" (profiling stopped first) or "gone"
    /// (an attached process ended; its status belongs to its parent).
    public var state: String
    public var exitCode: Int32?
    public var signal: String?

    public init(state: String, exitCode: Int32?, signal: String?) {
        self.state = state
        self.exitCode = exitCode
        self.signal = signal
    }

    public static let running = TargetOutcome(state: "running", exitCode: nil, signal: nil)
    public static let gone = TargetOutcome(state: "gone", exitCode: nil, signal: nil)

    public var failed: Bool { state == "killed" || (exitCode ?? 0) != 0 }

    /// "exited with status 3", "killed by SIGKILL", "gone", "running".
    var exitDescription: String {
        state + (exitCode.map { " with status \($0)" } ?? "") + (signal.map { " by \($0)" } ?? "")
    }

    public var description: String {
        switch state {
        case "exited": "target exited with status \(exitCode ?? 0)"
        case "killed": "target killed by \(signal ?? "a signal")"
        case "gone": "target exited"
        default: "target still running"
        }
    }
}
