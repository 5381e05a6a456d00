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
    }

    /// Mean bytes between sampled allocations (run --heap); 0 with uprobes,
    /// which sample by count (each sample weighted by its period).
    public var sampleBytes: Int
    public var records: Int
    /// Sampled allocations dropped because the agent fell behind (never
    /// counted anywhere, so outstanding bytes are not inflated by them).
    public var droppedSamples: UInt64
    /// Most outstanding bytes first.
    public var stacks: [Stack]
    /// With `attach --heap`: what was probed, and its cost.
    public var probes: AllocatorProbeSummary?

    /// Thresholds: growth as for the whole process's memory; churn from 100
    /// allocations a second with at least 90% of the bytes freed.
    static let minimumLeakBytes: UInt64 = 256 * 1024
    static let churnAllocationsPerSecond = 100.0

    static func build(_ capture: HeapCapture, duration: Double, name: (Frame) -> SymbolizedFrame) -> HeapReport {
        let seconds = max(duration, 0.001)
        let stacks = capture.stacks.map { stack -> Stack in
            let stats = stack.stats
            let trend = GrowthTrend(stats.series.map { ($0.t, Double($0.outstandingBytes)) })
            let slope = trend?.fit.slope ?? 0, rSquared = trend?.fit.rSquared ?? 0
            let perSecond = stats.estimatedObjects / seconds
            let kind: Kind
            if let trend, trend.isGrowing(minimumRate: MemoryGrowth.minimumRate), stats.outstandingBytes >= minimumLeakBytes {
                kind = .leak
            } else if perSecond >= churnAllocationsPerSecond && Double(stats.freedBytes) >= 0.9 * Double(stats.allocatedBytes) {
                kind = .churn
            } else {
                kind = stats.outstandingBytes > 0 ? .retained : .transient
            }
            let frames = stack.key.frames.reversed().map(name)
            return Stack(functions: frames.map(\.function), modules: frames.map(\.module), kind: kind,
                         allocations: stats.allocations, estimatedObjects: stats.estimatedObjects,
                         allocatedBytes: stats.allocatedBytes, allocationBytesPerSecond: Double(stats.allocatedBytes) / seconds,
                         allocationsPerSecond: perSecond, frees: stats.frees, freedBytes: stats.freedBytes,
                         freeBytesPerSecond: Double(stats.freedBytes) / seconds, outstandingBytes: stats.outstandingBytes,
                         outstandingObjects: stats.outstandingObjects, growthBytesPerSecond: slope, growthRSquared: rSquared,
                         oldestLiveSeconds: stats.oldestLiveSeconds)
        }
        return HeapReport(sampleBytes: capture.sampleBytes, records: capture.records, droppedSamples: capture.droppedSamples,
                          stacks: stacks.sorted { ($0.outstandingBytes, $0.allocatedBytes) > ($1.outstandingBytes, $1.allocatedBytes) },
                          probes: capture.probes)
    }
}
