import CPerfProbe

/// One event perfprobe opens on every followed thread, on every CPU, writing
/// into the rings of `PerfEventGroup`.
struct EventSpec: Sendable {
    var config: CPerfProbe_EventConfig
    /// The layout of its samples.
    var layout: SampleLayout
    /// The sampling event, to explain a refusal.
    var samplingEvent: SamplingEvent
    /// Names the event in errors.
    var name: String

    /// The CPU sampling event.
    static func sampling(_ event: SamplingEvent, frequency: Int, includeKernel: Bool, layout: SampleLayout,
                         scope: SamplingScope, perCPU: Bool = false, ringBytes: Int) -> EventSpec {
        var config = CPerfProbe_EventConfig()
        config.type = event.type
        config.config = event.config
        config.sample_period_or_frequency = UInt64(frequency)
        config.use_frequency = true
        config.exclude_kernel = !includeKernel
        config.exclude_callchain_kernel = !includeKernel
        config.side_band = true
        config.inherit = !perCPU
        if case .launched = scope {
            config.disabled = true
            config.enable_on_exec = true
        }
        return EventSpec(config: config, layout: layout, stackSize: layout.userStackSize, ringBytes: ringBytes,
                         samplingEvent: event, name: event.rawValue)
    }

    private init(config: CPerfProbe_EventConfig, layout: SampleLayout, stackSize: UInt32, ringBytes: Int,
                 samplingEvent: SamplingEvent, name: String) {
        var config = config
        config.sample_type = layout.sampleType
        config.sample_regs_user = layout.userRegisterMask
        config.sample_stack_user = stackSize
        config.wakeup_watermark = UInt32(ringBytes / 4)
        self.config = config
        self.layout = layout
        self.samplingEvent = samplingEvent
        self.name = name
    }

    /// Opens the event on `tasks` and `cpu`.
    func open(_ tasks: PerfEventGroup.Tasks, cpu: Int32) throws(Errno) -> Int32 {
        var config = config
        switch tasks {
        case .thread(let tid): return try Syscalls.perfEventOpen(config, pid: tid.rawValue, cpu: cpu)
        case .every: return try Syscalls.perfEventOpen(config, pid: -1, cpu: cpu)
        case .cgroup(let directory):
            config.pid_is_cgroup = true
            return try Syscalls.perfEventOpen(config, pid: directory, cpu: cpu)
        }
    }

    /// The error to report when opening fails.
    func failure(_ errno: Errno) -> SamplingError {
        .opening(samplingEvent, errno, kernel: !config.exclude_kernel)
    }
}
