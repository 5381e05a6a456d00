/// What the user asked for, independent of run or attach.
public struct ProfileOptions: Sendable {
    public var event: SamplingEvent
    public var frequency: Int
    public var duration: Double?
    public var includeKernel: Bool
    public var unwind: UnwindMode
    public var stackSize: UInt32
    public var perThread: Bool
    /// Demangling, inline chains and source lines.
    public var symbols: SymbolizerSettings
    /// Track memory growth (--heap).
    public var heap: Bool
    /// Mean bytes between sampled allocations for the heap probe.
    public var heapSampleBytes: Int
    /// attach --heap: allocation stacks sampled per second, at most.
    public var heapFrequency = 1000
    /// attach --heap: seconds to trace allocations (frees are traced to the end).
    public var heapWindow: Double?
    /// attach --heap: trace allocations only once memory is seen growing.
    public var heapArmOnGrowth = false
    /// attach --heap: allocator definition files tried before the bundled ones.
    public var allocatorFiles: [String] = []
    /// attach, sidecar: the target's descendants too (--tree).
    public var tree = false
    /// attach: every process of this name, present and future (--match).
    public var match: String?
    /// Where threads wait (--off-cpu).
    public var offCPU = false
    /// attach, sidecar: every process of this cgroup v2, present and future (--cgroup).
    public var cgroup: CgroupDirectory?
    /// Where the sampling thread publishes live counts (a status line, `top`).
    public var progress: SamplingProgress?

    /// From this many threads an attach samples per CPU: one inheriting
    /// event per thread costs the kernel tens of ms each on a VM (100
    /// threads: seconds before sampling starts, and as long again to stop).
    public static let perCPUThreads = 32

    public init(event: SamplingEvent = .cpuClock, frequency: Int = 99, duration: Double? = nil,
                includeKernel: Bool = true, unwind: UnwindMode = .auto, stackSize: UInt32 = SamplerConfiguration.defaultStackSize, perThread: Bool = false,
                symbols: SymbolizerSettings = SymbolizerSettings(), heap: Bool = false, heapSampleBytes: Int = 512 * 1024) {
        self.event = event
        self.frequency = frequency
        self.duration = duration
        self.includeKernel = includeKernel
        self.unwind = unwind
        self.stackSize = stackSize
        self.perThread = perThread
        self.symbols = symbols
        self.heap = heap
        self.heapSampleBytes = heapSampleBytes
    }

    /// The processes followed come and go (--match, --cgroup): the first one's
    /// exit does not end profiling.
    public var followsSeveral: Bool { match != nil || cgroup != nil }

    func configuration(for scope: SamplingScope) -> SamplerConfiguration {
        var configuration = SamplerConfiguration(scope: scope, event: event, frequency: frequency, includeKernel: includeKernel,
                                                 unwind: unwind, stackSize: stackSize, trackMemory: heap)
        configuration.offCPU = offCPU
        return configuration
    }
}
