/// What `attach --heap` probed and what it cost: in report.json's heap section.
public struct AllocatorProbeSummary: Codable, Hashable, Sendable {
    public struct Function: Codable, Hashable, Sendable {
        public var symbol: String
        public var role: String
        /// The function's entry in the library file, and where its entry probe
        /// sits past it (a free probed past a single-stepped first instruction).
        public var fileOffset: UInt64
        public var probeOffset: Int
        /// Calls recorded while probed: every call of an allocating function,
        /// a freeing function's frees of sampled blocks (see `freeCalls`).
        public var calls: Int
    }

    public var allocator: String
    public var library: String
    public var functions: [Function]
    /// Functions of the definition not found in the library.
    public var missing: [String]
    /// Allocation stacks sampled per second, at most.
    public var sampleFrequencyHz: Int
    /// Cost per probed call, measured at start; nil when the agent does not map the library.
    public var calibration: ProbeCalibration?
    /// Calls times their measured cost: the time the probes added to the target.
    public var estimatedTargetSeconds: Double?
    /// Probe records the ring had no room for while the agent fell behind:
    /// entries (calls not counted, frees missed) and chosen returns.
    public var lostEntries: UInt64?
    public var lostReturns: UInt64?
    /// Calls of the freeing functions while probed, recorded or not.
    public var freeCalls: UInt64?
    /// Whether every free was recorded, not only those of sampled blocks: a
    /// sampled call returned no block to remember (an out-parameter
    /// function), or too many sampled blocks were outstanding.
    public var everyFreeRecorded: Bool?
    /// Allocating calls counted from outside the allocator, and their bytes:
    /// the totals the stacks' estimates stand for.
    public var countedCalls: Int?
    public var countedBytes: UInt64?
    /// Calls the sampled stacks stand for: the counted ones less each call
    /// site's calls after its last sample, and less `uncountedCalls`.
    public var representedCalls: Int?
    /// Calls from call sites past the cap on how many are counted.
    public var uncountedCalls: Int?
    public var internalCalls: Int
    public var unmatchedReturns: Int
    public var unresolvedResults: Int
    /// When allocation tracing was on, in seconds from the start; nil disarmed: until the end.
    public var armedAtSeconds: Double?
    public var disarmedAtSeconds: Double?

    init(matcher: AllocatorCallMatcher, settings: HeapProbeSettings, counts: AllocatorProbeCounts,
         armedAtSeconds: Double?, disarmedAtSeconds: Double?) {
        let plan = matcher.plan
        allocator = plan.definition.name
        library = plan.libraryPath
        let functions = plan.sites.enumerated().map { index, site in
            Function(symbol: site.function.symbol, role: site.function.role.rawValue, fileOffset: site.fileOffset,
                     probeOffset: site.placement, calls: matcher.calls[index])
        }
        self.functions = functions
        missing = plan.missing
        sampleFrequencyHz = settings.frequency
        calibration = settings.calibration
        estimatedTargetSeconds = settings.calibration.map { cost in
            let allocating = functions.filter { $0.role != "free" }.reduce(0) { $0 + $1.calls }
            return (Double(allocating) * cost.mallocNanoseconds + Double(counts.freeCalls) * cost.freeNanoseconds) / 1e9
        }
        lostEntries = counts.lostEntries
        lostReturns = counts.lostReturns
        freeCalls = counts.freeCalls
        everyFreeRecorded = counts.everyFreeRecorded
        countedCalls = matcher.countedCalls
        countedBytes = matcher.countedBytes
        representedCalls = matcher.representedCalls
        uncountedCalls = matcher.uncountedCalls
        internalCalls = matcher.internalCalls
        unmatchedReturns = matcher.unmatchedReturns
        unresolvedResults = matcher.unresolvedResults
        self.armedAtSeconds = armedAtSeconds
        self.disarmedAtSeconds = disarmedAtSeconds
    }
}
