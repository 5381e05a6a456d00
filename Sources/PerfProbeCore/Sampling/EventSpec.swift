import CPerfProbe

/// One event perfprobe opens on every followed thread, on every CPU, writing
/// into the rings of `PerfEventGroup`.
struct EventSpec: Sendable {
    var config: CPerfProbe_EventConfig
    /// The layout of its samples.
    var layout: SampleLayout
    /// The sampling event, to explain a refusal (nil: the context-switch event).
    var samplingEvent: SamplingEvent?
    /// Names the event in errors.
    var name: String
    /// A BPF program to attach to each of its events (`SwitchFilter`).
    var filter: Int32?

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

    /// `--off-cpu`: the context-switches software event with period 1 — a
    /// sample as each followed thread leaves the CPU (its kernel stack, and
    /// for DWARF up to `maximumSwitchStack` bytes of user stack: a switch
    /// storm must not copy 64 KiB per switch) — and PERF_RECORD_SWITCH
    /// records as threads leave and regain a CPU. Its samples' IP is in
    /// schedule(), so the kernel part is never excluded.
    static func switches(layout: SampleLayout, scope: SamplingScope, perCPU: Bool, ringBytes: Int, filter: Int32?) -> EventSpec {
        var config = CPerfProbe_EventConfig()
        config.type = UInt32(PERF_TYPE_SOFTWARE.rawValue)
        config.config = UInt64(PERF_COUNT_SW_CONTEXT_SWITCHES.rawValue)
        config.sample_period_or_frequency = 1
        config.context_switch = true
        // The DWARF walk of the stack copy is the user stack: the kernel's
        // frame-pointer walk of it would cost every switch (perf's dwarf
        // mode leaves it out too).
        config.exclude_callchain_user = layout.userStackSize > 0
        config.inherit = !perCPU
        if case .launched = scope {
            config.disabled = true
            config.enable_on_exec = true
        }
        let stack = layout.userStackSize == 0 ? layout : .userStack(min(layout.userStackSize, maximumSwitchStack))
        var spec = EventSpec(config: config, layout: stack, stackSize: stack.userStackSize, ringBytes: ringBytes,
                             samplingEvent: nil, name: "context-switches")
        spec.filter = filter
        return spec
    }

    static let maximumSwitchStack: UInt32 = 8192

    private init(config: CPerfProbe_EventConfig, layout: SampleLayout, stackSize: UInt32, ringBytes: Int,
                 samplingEvent: SamplingEvent?, name: String) {
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
        guard let samplingEvent else { return .system("opening the context-switches event (--off-cpu)", errno) }
        return .opening(samplingEvent, errno, kernel: !config.exclude_kernel)
    }
}
