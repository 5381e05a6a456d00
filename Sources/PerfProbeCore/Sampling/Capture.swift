/// Everything one sampling run collected, as copied values: stacks still as
/// interned frames (symbolized afterwards), plus the run's bookkeeping.
public struct Capture: Sendable {
    public var stacks: [StackKey: Int] = [:]
    public var modules: [Module] = []
    public var threadNames: [ThreadID: String] = [:]
    public var processNames: [ProcessID: String] = [:]
    public var samples = 0
    /// Records the kernel dropped because the ring was full (PERF_RECORD_LOST).
    public var lostRecords: UInt64 = 0
    /// Samples the kernel dropped before they reached the ring (PERF_RECORD_LOST_SAMPLES).
    public var lostSamples: UInt64 = 0
    /// PERF_RECORD_THROTTLE events: the kernel lowered the sampling rate.
    public var throttles = 0
    /// How each sample's user stack was walked.
    public var unwindOutcomes: [UnwindOutcome: Int] = [:]
    /// Time spent unwinding, all samples together.
    public var unwindNanoseconds: UInt64 = 0
    public var modulesWithoutUnwindInfo: [String] = []
    /// /tmp/perf-PID.map of processes with JIT code, as read while they
    /// ran (a JIT may delete it at exit).
    public var perfMaps: [ProcessID: PerfMap] = [:]
    /// What the report should say about what could not be seen (once each).
    public var notes: [String] = []
    public var timeline: [TelemetryPoint] = []
    /// With memory tracking: the memory timeline of the main process.
    public var memoryTimeline: [MemoryPoint]?
    /// With the heap probe: sampled allocations by stack.
    public var heap: HeapCapture?
    public var counters: [CounterReading] = []
    /// CLOCK_MONOTONIC nanoseconds.
    public var startNanoseconds: UInt64 = 0
    public var endNanoseconds: UInt64 = 0

    public init() {}

    public var durationSeconds: Double { Double(endNanoseconds &- startNanoseconds) / 1e9 }

    /// Adds a later capture of the same target (a sampler slice): counts
    /// add up, timelines append (thinned to every other point past
    /// `timelineCapacity` points, so that a long run stays bounded), and what
    /// describes the target (modules, names, counters) is taken from the later one.
    mutating func absorb(_ later: Capture, timelineCapacity: Int = SamplerConfiguration.sidecarTimelineCapacity) {
        if samples == 0 && stacks.isEmpty && timeline.isEmpty { startNanoseconds = later.startNanoseconds }
        stacks.merge(later.stacks, uniquingKeysWith: +)
        samples += later.samples
        lostRecords += later.lostRecords
        lostSamples += later.lostSamples
        throttles += later.throttles
        unwindOutcomes.merge(later.unwindOutcomes, uniquingKeysWith: +)
        unwindNanoseconds += later.unwindNanoseconds
        timeline = Self.bounded(timeline + later.timeline, capacity: timelineCapacity)
        if let points = later.memoryTimeline { memoryTimeline = Self.bounded((memoryTimeline ?? []) + points, capacity: timelineCapacity) }
        // Module lists only grow: the longer one holds every index either uses.
        if later.modules.count >= modules.count { modules = later.modules }
        threadNames.merge(later.threadNames) { $1 }
        processNames.merge(later.processNames) { $1 }
        perfMaps.merge(later.perfMaps) { $1 }
        notes += later.notes.filter { !notes.contains($0) }
        modulesWithoutUnwindInfo = later.modulesWithoutUnwindInfo
        counters = later.counters
        heap = later.heap ?? heap
        endNanoseconds = later.endNanoseconds
    }

    private static func bounded<Point>(_ points: [Point], capacity: Int) -> [Point] {
        guard points.count > capacity else { return points }
        return points.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
    }
}
