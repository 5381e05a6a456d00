/// Reads the target's /proc telemetry on a fixed interval into bounded
/// timelines (CPU, threads, and with memory tracking its memory), and says
/// when an attached target is gone. Read between records too (`readIfDue`):
/// an agent slowed by a flood of records (or by a sanitizer) still reads the
/// timeline on time, so the memory verdict does not depend on how fast the
/// agent is.
final class TelemetryReader: RecordConsumer {
    private var telemetry: ProcessTelemetry
    private let interval: UInt64
    private let trackMemory: Bool
    private(set) var timeline: BoundedTimeline<TelemetryPoint>
    private(set) var memoryTimeline: BoundedTimeline<MemoryPoint>
    private(set) var nextReading: UInt64
    /// Found gone (or a zombie) at a reading.
    private(set) var targetGone = false
    /// Timeline time (s) up to which points went into a slice.
    private var sliceStart = -1.0
    private let launched: Bool

    init(_ configuration: SamplerConfiguration, start: UInt64) {
        telemetry = ProcessTelemetry(pid: configuration.scope.pid, startNanoseconds: start,
                                     threadStatusInterval: configuration.threadStatusIntervalNanoseconds)
        interval = configuration.telemetryIntervalNanoseconds
        trackMemory = configuration.trackMemory
        timeline = BoundedTimeline(capacity: configuration.timelineCapacity)
        memoryTimeline = BoundedTimeline(capacity: configuration.timelineCapacity)
        nextReading = start
        if case .launched = configuration.scope { launched = true } else { launched = false }
    }

    /// Takes a reading if one is due; true when it did.
    func readIfDue() -> Bool {
        guard Syscalls.monotonicNanoseconds() >= nextReading else { return false }
        nextReading += interval
        let point = telemetry.read()
        if point == nil { targetGone = true }
        // A launched command caught in the middle of its exec has no memory
        // yet: alive, but not a point of its timeline.
        guard let point, point.rssBytes > 0 else { return true }
        timeline.append(point)
        if trackMemory, let memory = telemetry.readMemory() { memoryTimeline.append(memory) }
        return true
    }

    func slice(into capture: inout Capture) {
        capture.timeline = timeline.points.filter { $0.t > sliceStart }
        if trackMemory { capture.memoryTimeline = memoryTimeline.points.filter { $0.t > sliceStart } }
        sliceStart = capture.timeline.last?.t ?? sliceStart
    }

    func finish(into capture: inout Capture) {
        if launched, let last = timeline.points.last, let point = telemetry.readFinal(after: last) {
            timeline.modify { $0.append(point) } // kept whatever the thinning stride
        }
        slice(into: &capture)
    }
}
