/// Allocations by stack: where live memory comes from, which stacks keep
/// growing (leaks) and which allocate and free at a high rate (churn).
public struct HeapReport: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// Outstanding bytes kept growing: reported as a leak with its stack.
        case leak
        /// Many allocations, nearly all freed: an optimization opportunity, not a leak.
        case churn
        /// Still holds memory, not growing.
        case retained
        /// Allocated and freed, at a modest rate.
        case transient
    }

    public struct Stack: Codable, Sendable {
        /// Function names, root first.
        public var functions: [String]
        public var modules: [String]
        public var kind: Kind
        public var allocations: Int
        public var estimatedObjects: Double
        public var allocatedBytes: UInt64
        public var allocationBytesPerSecond: Double
        public var allocationsPerSecond: Double
        public var frees: Int
        public var freedBytes: UInt64
        public var freeBytesPerSecond: Double
        public var outstandingBytes: UInt64
        public var outstandingObjects: Int
        /// Slope of outstanding bytes after the warm-up, bytes per second, and its fit.
        public var growthBytesPerSecond: Double
        public var growthRSquared: Double
        public var oldestLiveSeconds: Double?
        /// Bytes this stack held at its peak and released in the run's last
        /// moments (interpreter teardown, atexit handlers): not counted
        /// against the leak; nil when it released nothing so.
        public var freedAtExitBytes: UInt64? = nil
        /// 95% intervals: of the allocation rates and outstanding bytes, from
        /// the sampled allocations and live objects that make them and their
        /// chance of being sampled; of the growth, the same widened by the
        /// fit's. Nil in reports of earlier versions.
        public var growthInterval: ConfidenceInterval? = nil
        public var allocationBytesPerSecondInterval: ConfidenceInterval? = nil
        public var allocationsPerSecondInterval: ConfidenceInterval? = nil
        public var outstandingBytesInterval: ConfidenceInterval? = nil
    }

    /// Mean bytes between sampled allocations (run --heap); 0 with uprobes,
    /// which sample by count (each sample weighted by its period).
    public var sampleBytes: Int
    public var records: Int
    /// Sampled allocations dropped because the agent fell behind (never
    /// counted anywhere, so outstanding bytes are not inflated by them).
    public var droppedSamples: UInt64
    /// Frees of sampled allocations the probe could not pass on: the
    /// outstanding bytes of their stacks are overstated by as much. Nil in
    /// reports from before it was counted.
    public var droppedFrees: UInt64?
    /// Most outstanding bytes first.
    public var stacks: [Stack]
    /// With `attach --heap`: what was probed, and its cost.
    public var probes: AllocatorProbeSummary?
    /// With `run --heap`: the preloaded probe's own memory in the target.
    public var probeMemory: HeapProbeMemory?
    /// The seconds the stacks' rates are per second of, when not the whole
    /// profile's (`attach --heap`: from arming to the end of the window or
    /// to the probes' removal).
    public var tracedSeconds: Double?

    /// Thresholds: growth as for the whole process's memory; churn from 100
    /// allocations a second with at least 90% of the bytes freed.
    static let minimumLeakBytes: UInt64 = 256 * 1024
    static let churnAllocationsPerSecond = 100.0

    /// A stack's series while the program ran. Outstanding bytes that fall
    /// from their peak to under half of it, the fall starting in the run's
    /// last second (or 10% of it), are the program tidying up as it ends —
    /// an interpreter's teardown, an atexit handler — and must not erase
    /// what it held while it ran: the series is cut where the fall began.
    /// Only for a program that ended while profiled: one still running
    /// (attach --duration) is not tearing down, and its churn is noise.
    static func whileRunning(_ series: [HeapPoint], end: Double, ended: Bool) -> (series: [HeapPoint], freedAtExit: UInt64?) {
        guard ended, let peak = series.indices.max(by: { series[$0].outstandingBytes < series[$1].outstandingBytes }),
              let last = series.last, series[peak].outstandingBytes > 0,
              last.outstandingBytes < series[peak].outstandingBytes / 2 else { return (series, nil) }
        // Where the fall began: the last point still within 10% of the peak.
        let high = series[peak].outstandingBytes - series[peak].outstandingBytes / 10
        let fall = series.lastIndex { $0.outstandingBytes >= high } ?? peak
        guard series[fall].t >= end - max(1.0, 0.1 * end) else { return (series, nil) }
        return (Array(series[...fall]), series[fall].outstandingBytes - last.outstandingBytes)
    }

    /// The mean chance that one of the stack's allocations was sampled.
    static func samplingProbability(_ stats: HeapStackStats) -> Double {
        stats.estimatedObjects > 0 ? min(1, Double(stats.allocations) / stats.estimatedObjects) : 1
    }

    /// The 95% interval of a stack's growth: the objects it gained over the
    /// fitted window were sampled (`ConfidenceInterval.sampled`, with the
    /// 1.2 × variance of a slope fitted to a Poisson count: a factor of 3
    /// each way for 2 small objects, ±13% for 300, nothing when every
    /// allocation is sampled), widened by the fit's own uncertainty.
    static func growthInterval(_ fit: LinearFit, stats: HeapStackStats) -> ConfidenceInterval {
        let weight = stats.allocations > 0 ? Double(stats.allocatedBytes) / Double(stats.allocations) : 0
        let gained = weight > 0 ? abs(fit.slope) * fit.span / weight : 0
        let objects = gained.isFinite ? max(1, Int(min(gained, 1e12).rounded())) : 1
        let sampled = ConfidenceInterval.sampled(fit.slope, count: objects, probability: samplingProbability(stats), inflation: 1.2)
        let spread = fit.slopeInterval.map { ($0.high - $0.low) / 2 } ?? 0
        return ConfidenceInterval(low: min(sampled.low, sampled.high) - spread, high: max(sampled.low, sampled.high) + spread)
    }

    /// `ended`: the target exited while it was profiled.
    /// `name`: the functions at a frame, inlined ones first.
    static func build(_ capture: HeapCapture, duration: Double, ended: Bool, name: (Frame) -> [SymbolizedFrame]) -> HeapReport {
        let seconds = max(duration, 0.001)
        let traced = max(capture.tracedSeconds ?? duration, 0.001)
        let stacks = capture.stacks.map { stack -> Stack in
            let stats = stack.stats
            let running = whileRunning(stats.series, end: seconds, ended: ended)
            let trend = GrowthTrend(running.series.map { ($0.t, Double($0.outstandingBytes)) })
            let slope = trend?.fit.slope ?? 0, rSquared = trend?.fit.rSquared ?? 0
            let perSecond = stats.estimatedObjects / traced
            let held = running.series.last?.outstandingBytes ?? stats.outstandingBytes
            let growth = trend.map { growthInterval($0.fit, stats: stats) }
            let kind: Kind
            // Growth while the program ran makes a leak, whatever the stack also churned.
            if let trend, trend.isGrowing(minimumRate: GrowthThreshold.minimumRate), (growth?.low ?? 0) >= GrowthThreshold.minimumRate,
               max(held, stats.outstandingBytes) >= minimumLeakBytes {
                kind = .leak
            } else if ConfidenceInterval.sampled(perSecond, count: stats.allocations, probability: samplingProbability(stats)).low
                        >= churnAllocationsPerSecond,
                      Double(stats.freedBytes) >= 0.9 * Double(stats.allocatedBytes) {
                kind = .churn
            } else {
                kind = stats.outstandingBytes > 0 ? .retained : .transient
            }
            let frames = stack.frames.reversed().flatMap { name($0).reversed() }
            return Stack(functions: frames.map(\.function), modules: frames.map(\.module), kind: kind,
                         allocations: stats.allocations, estimatedObjects: stats.estimatedObjects,
                         allocatedBytes: stats.allocatedBytes, allocationBytesPerSecond: Double(stats.allocatedBytes) / traced,
                         allocationsPerSecond: perSecond, frees: stats.frees, freedBytes: stats.freedBytes,
                         freeBytesPerSecond: Double(stats.freedBytes) / traced, outstandingBytes: stats.outstandingBytes,
                         outstandingObjects: stats.outstandingObjects, growthBytesPerSecond: slope, growthRSquared: rSquared,
                         oldestLiveSeconds: stats.oldestLiveSeconds, freedAtExitBytes: running.freedAtExit,
                         growthInterval: growth,
                         allocationBytesPerSecondInterval: .sampled(Double(stats.allocatedBytes) / traced, count: stats.allocations,
                                                                    probability: samplingProbability(stats)),
                         allocationsPerSecondInterval: .sampled(perSecond, count: stats.allocations, probability: samplingProbability(stats)),
                         outstandingBytesInterval: .sampled(Double(stats.outstandingBytes), count: stats.outstandingObjects,
                                                            probability: samplingProbability(stats)))
        }
        return HeapReport(sampleBytes: capture.sampleBytes, records: capture.records, droppedSamples: capture.droppedSamples,
                          droppedFrees: capture.probeMemory == nil ? nil : capture.droppedFrees,
                          stacks: stacks.sorted { ($0.outstandingBytes, $0.allocatedBytes) > ($1.outstandingBytes, $1.allocatedBytes) },
                          probes: capture.probes, probeMemory: capture.probeMemory, tracedSeconds: capture.tracedSeconds)
    }
}
