/// How to sample: what the CLI's sampling options become.
public struct SamplerConfiguration: Sendable {
    public var scope: SamplingScope
    public var event: SamplingEvent
    public var frequency: Int
    public var includeKernel: Bool
    public var unwind: UnwindMode
    /// Bytes of user stack copied per sample for DWARF unwinding.
    public var stackSize: UInt32
    public var telemetryIntervalNanoseconds: UInt64
    /// Also record the memory timeline (RSS, anonymous memory) for growth analysis.
    public var trackMemory: Bool
    /// Attached: one event per CPU over every task, keeping the target's
    /// records (`ProcessSelection`), instead of one inheriting event per
    /// thread — what a target with many threads, or a process tree, needs.
    public var perCPU = false
    /// Attached per CPU: the target's descendants too, present and future.
    public var tree = false
    /// Attached per CPU: every process of this name too, present and future.
    public var match: String?
    /// Attached per CPU: the kernel samples only the tasks of this cgroup
    /// (and of those below it), so other processes cost nothing.
    public var cgroup: CgroupDirectory?
    /// Record every switch-out and switch-in of the followed threads, with
    /// the stack that blocked (`--off-cpu`).
    public var offCPU = false
    /// With `cgroup`: every process in it is followed (`--cgroup`), not only
    /// the target and those the options above select.
    public var wholeCgroup = false

    public init(scope: SamplingScope, event: SamplingEvent = .cpuClock, frequency: Int = 99, includeKernel: Bool = true,
                unwind: UnwindMode = .auto, stackSize: UInt32 = SamplerConfiguration.defaultStackSize, telemetryIntervalNanoseconds: UInt64 = 100_000_000,
                trackMemory: Bool = false) {
        self.scope = scope
        self.event = event
        self.frequency = frequency
        self.includeKernel = includeKernel
        self.unwind = unwind
        self.stackSize = stackSize
        self.telemetryIntervalNanoseconds = telemetryIntervalNanoseconds
        self.trackMemory = trackMemory
    }

    /// Timeline points kept before halving their density: 30 minutes at
    /// 100 ms. The sidecar keeps fewer (`sidecarTimelineCapacity`): its memory
    /// must stop growing within minutes, however long it runs.
    public var timelineCapacity = 18_000
    static let sidecarTimelineCapacity = 1_200
    /// How often each thread's status is read for its context switches (0:
    /// at every telemetry tick). The kernel writes out the whole status file
    /// for each thread: ten times a second it was most of the sidecar's CPU.
    public var threadStatusIntervalNanoseconds: UInt64 = 0

    /// What a sidecar running for hours needs: fewer timeline points, thread
    /// status once a second.
    mutating func boundForSidecar() {
        timelineCapacity = Self.sidecarTimelineCapacity
        threadStatusIntervalNanoseconds = 1_000_000_000
    }

    var layout: SampleLayout { unwind == .fp ? .callchain : .userStack(stackSize) }

    /// The user stack copied per sample: the kernel's most. The Swift
    /// compiler's samples need 20–60 KiB to reach their thread's first frame
    /// (16 KiB left 92% of them cut short); a shallow stack costs the target
    /// only what is mapped above its stack pointer, but every sample takes
    /// the whole size in the ring.
    public static let defaultStackSize: UInt32 = 65528

    /// Data pages per CPU ring (a power of two): with DWARF stacks, 2 MiB
    /// per 16 KiB of stack copy (about 125 ms of samples at 1 kHz: 8 MiB at
    /// the default); the sampler is woken at a quarter full.
    var ringPages: Int {
        if unwind == .fp { return 128 }
        var pages = 512
        while pages / 512 * 16384 < Int(stackSize) { pages *= 2 }
        return pages
    }
}
