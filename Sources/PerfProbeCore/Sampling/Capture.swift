/// Everything one sampling run collected, as copied values: stacks still as
/// interned frames (symbolized afterwards), plus the run's bookkeeping, and
/// the parts later stages' consumers add (`CapturePart`).
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
    /// Sampling per CPU over every task: samples of processes not followed,
    /// which the kernel took (stack copy included) and the agent discarded.
    public var otherProcessSamples = 0
    /// What the report should say about what could not be seen (once each).
    public var notes: [String] = []
    public var timeline: [TelemetryPoint] = []
    /// With memory tracking: the memory timeline of the main process.
    public var memoryTimeline: [MemoryPoint]?
    public var counters: [CounterReading] = []
    /// CLOCK_MONOTONIC nanoseconds.
    public var startNanoseconds: UInt64 = 0
    public var endNanoseconds: UInt64 = 0
    /// What stages after sampling made of the records, by type: each stage
    /// declares its part and a `Capture` property for it where it lives.
    private var parts: [ObjectIdentifier: any CapturePart] = [:]

    public init() {}

    public subscript<Part: CapturePart>(part: Part.Type) -> Part? {
        get { parts[ObjectIdentifier(part)] as? Part }
        set { parts[ObjectIdentifier(part)] = newValue }
    }

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
        otherProcessSamples += later.otherProcessSamples
        timeline = Self.bounded(timeline + later.timeline, capacity: timelineCapacity)
        if let points = later.memoryTimeline { memoryTimeline = Self.bounded((memoryTimeline ?? []) + points, capacity: timelineCapacity) }
        // Module lists only grow: the longer one holds every index either uses.
        if later.modules.count >= modules.count { modules = later.modules }
        threadNames.merge(later.threadNames) { $1 }
        processNames.merge(later.processNames) { $1 }
        notes += later.notes.filter { !notes.contains($0) }
        counters = later.counters
        endNanoseconds = later.endNanoseconds
        for (key, part) in later.parts {
            parts[key] = parts[key].map { Self.absorbing(part, into: $0) } ?? part
        }
    }

    private static func absorbing<Part: CapturePart>(_ later: any CapturePart, into part: Part) -> any CapturePart {
        guard let later = later as? Part else { return part }
        var part = part
        part.absorb(later)
        return part
    }

    private static func bounded<Point>(_ points: [Point], capacity: Int) -> [Point] {
        guard points.count > capacity else { return points }
        return points.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
    }
}

/// A later stage's own output in a `Capture`: a new capability adds a part,
/// not fields to the capture.
public protocol CapturePart: Sendable {
    /// Adds a later slice's part of the same target (counts add up; a state
    /// is the later one's).
    mutating func absorb(_ later: Self)
}
