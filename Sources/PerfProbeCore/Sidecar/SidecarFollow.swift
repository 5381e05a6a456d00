/// What the sidecar attaches to again when the process it follows exits:
/// the next process of a name (`--match`) or of a cgroup (`--cgroup`).
public enum SidecarFollow: Sendable, CustomStringConvertible {
    case name(String)
    case cgroup(CgroupDirectory)

    /// The oldest such process now.
    var next: ProcessID? {
        switch self {
        case .name(let name): ProcessFinder.oldest(named: name)
        case .cgroup(let cgroup): cgroup.oldestProcess
        }
    }

    public var description: String {
        switch self {
        case .name(let name): "process named \(SymbolName.sanitized(name))"
        case .cgroup(let cgroup): "process in cgroup \(SymbolName.sanitized(cgroup.name))"
        }
    }
}
