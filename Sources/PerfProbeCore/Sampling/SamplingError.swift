/// Why sampling could not be set up.
public enum SamplingError: Error, Sendable, CustomStringConvertible {
    /// perf_event_open refused for lack of privilege.
    /// `kernel`: kernel frames were asked for (no --no-kernel).
    case permissionDenied(paranoid: Int?, kernel: Bool)
    /// The kernel has no perf events (CONFIG_PERF_EVENTS off, or a sandbox).
    case perfEventsUnavailable(Errno)
    /// The requested event is not supported on this machine (e.g. cycles in a VM).
    case eventNotSupported(SamplingEvent)
    case targetGone(ProcessID)
    case system(String, Errno)
    /// A stage the records go to could not be set up (`attach --heap`'s probes).
    case stage(any Error & Sendable & CustomStringConvertible)

    public var description: String {
        switch self {
        case .permissionDenied(let paranoid, let kernel):
            let level = paranoid.map { " (kernel.perf_event_paranoid is \($0))" } ?? ""
            // Up to paranoid 2, a user may sample user space of their own processes.
            let userOnly = kernel && (paranoid ?? 3) <= 2 ? ", or add --no-kernel to sample user space only" : ""
            return "permission denied opening perf events\(level): run as root, grant CAP_PERFMON, or lower it with 'sysctl kernel.perf_event_paranoid=1'\(userOnly)"
        case .perfEventsUnavailable(let errno):
            return "perf events are unavailable on this kernel (\(errno)): perfprobe needs CONFIG_PERF_EVENTS and a system call filter that allows perf_event_open"
        case .eventNotSupported(let event):
            return "event '\(event.rawValue)' is not supported on this machine (no hardware PMU, as in most VMs): use --event cpu-clock"
        case .targetGone(let pid):
            return "process \(pid) exited before sampling could start"
        case .system(let what, let errno):
            return "\(what): \(errno)"
        case .stage(let error):
            return error.description
        }
    }

    /// Maps a perf_event_open failure to the cause a user can act on.
    static func opening(_ event: SamplingEvent, _ errno: Errno, kernel: Bool) -> SamplingError {
        switch errno {
        case .accessDenied, .notPermitted:
            let text = try? Syscalls.readFile("/proc/sys/kernel/perf_event_paranoid")
            let level = text.flatMap { Int(String(decoding: $0, as: UTF8.self).filter { $0.isNumber || $0 == "-" }) }
            return .permissionDenied(paranoid: level, kernel: kernel)
        case .noSuchFile, .notSupported, .noDevice:
            return event.isHardware ? .eventNotSupported(event) : .perfEventsUnavailable(errno)
        default:
            return .system("perf_event_open(\(event.rawValue))", errno)
        }
    }
}
