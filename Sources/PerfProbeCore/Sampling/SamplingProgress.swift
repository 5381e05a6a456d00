import Synchronization

/// Live counts of a session, published by the sampling thread as records
/// arrive and read by any other (a status line, `top`'s header).
public final class SamplingProgress: Sendable {
    public struct Counts: Sendable, Equatable {
        public var samples = 0
        /// Records and samples the kernel dropped (rings full).
        public var lost: UInt64 = 0
        /// The target's latest /proc reading.
        public var latest: TelemetryPoint?
    }

    private let counts = Locked(Counts())

    public init() {}

    public var current: Counts { counts.withLock { $0 } }

    func publish(_ new: Counts) {
        counts.withLock { $0 = new }
    }
}

/// Counts CPU samples and losses and publishes them with each telemetry
/// reading (ten times a second), so a reader never waits on the sampling thread.
final class ProgressMeter: RecordConsumer {
    private let progress: SamplingProgress
    private var counts = SamplingProgress.Counts()

    init(_ progress: SamplingProgress) {
        self.progress = progress
    }

    func consume(_ record: PerfRecord) {
        switch record {
        case .sample: counts.samples += 1
        case .lost(let count), .lostSamples(let count): counts.lost &+= count
        default: break
        }
    }

    func tick(_ telemetry: TelemetryReader) {
        counts.latest = telemetry.timeline.points.last
        progress.publish(counts)
    }

    func finish(into capture: inout Capture) {
        progress.publish(counts)
    }
}
