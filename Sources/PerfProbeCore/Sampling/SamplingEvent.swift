import CPerfProbe

/// The event that drives sampling.
public enum SamplingEvent: String, CaseIterable, Codable, Sendable {
    /// PERF_COUNT_SW_CPU_CLOCK: a per-CPU high-resolution timer; works in VMs.
    case cpuClock = "cpu-clock"
    /// PERF_COUNT_SW_TASK_CLOCK: the same timer, counted per task.
    case taskClock = "task-clock"
    /// PERF_COUNT_HW_CPU_CYCLES: needs a hardware PMU, which VMs often lack.
    case cycles

    var type: UInt32 {
        switch self {
        case .cpuClock, .taskClock: UInt32(PERF_TYPE_SOFTWARE.rawValue)
        case .cycles: UInt32(PERF_TYPE_HARDWARE.rawValue)
        }
    }

    var config: UInt64 {
        switch self {
        case .cpuClock: UInt64(PERF_COUNT_SW_CPU_CLOCK.rawValue)
        case .taskClock: UInt64(PERF_COUNT_SW_TASK_CLOCK.rawValue)
        case .cycles: UInt64(PERF_COUNT_HW_CPU_CYCLES.rawValue)
        }
    }

    var isHardware: Bool { type == UInt32(PERF_TYPE_HARDWARE.rawValue) }
}
