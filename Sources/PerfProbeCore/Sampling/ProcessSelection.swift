/// The processes an attach samples when its events are per CPU (over every
/// task on the machine) rather than per thread: the target, with `tree` its
/// descendants too, those alive at attach and those forked later, with
/// `name` every process of that name, those running and those that exec it
/// later. The
/// sampling thread keeps only their records; the kernel's per-task event
/// cost (tens of ms a thread on a VM) is then paid per CPU, whatever the
/// thread count. Pure: fed the records in time order.
struct ProcessSelection: Sendable {
    private(set) var processes: Set<ProcessID>
    let tree: Bool
    /// Processes that exec a program of this name join (`--match`).
    let name: String?

    init(_ processes: Set<ProcessID>, tree: Bool, name: String? = nil) {
        self.processes = processes
        self.tree = tree
        self.name = name
    }

    /// Whether `record` belongs to a selected process; a fork into the
    /// selection (a thread, or with `tree` a child process) joins it first.
    mutating func admits(_ record: PerfRecord) -> Bool {
        switch record {
        case .sample(let sample): return processes.contains(sample.pid)
        case .comm(let pid, _, _, let comm, let exec):
            if exec, let name, ProcessFinder.execName(comm, matches: name) { processes.insert(pid) }
            return processes.contains(pid)
        case .mmap(let pid, _, _, _): return processes.contains(pid)
        case .fork(let pid, let parentPID, _, _, _):
            guard processes.contains(parentPID) else { return processes.contains(pid) }
            if pid == parentPID || tree { processes.insert(pid) }
            return processes.contains(pid)
        case .exit(let pid, _, let tid, _, _):
            guard processes.contains(pid) else { return false }
            // The pid may be reused by a process that is not selected.
            if tid.rawValue == pid.rawValue { processes.remove(pid) }
            return true
        case .lost, .lostSamples, .throttle, .unthrottle, .other: return true
        }
    }

    /// `root`'s descendants alive now, from /proc (parent links).
    static func descendants(of root: ProcessID) -> Set<ProcessID> {
        Set(ProcessTreeUsage.read(root).descendants.keys)
    }
}
