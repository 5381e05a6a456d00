/// The processes an attach samples when its events are per CPU (over every
/// task on the machine, or a cgroup's) rather than per thread: the target,
/// with `tree` its descendants too, those alive at attach and those forked
/// later, with `name` every process of that name, those running and those
/// that exec it later, with `everyProcess` every process the events see (the
/// kernel's cgroup filter selects). The sampling thread keeps only their
/// records; the kernel's per-task event cost (tens of ms a thread on a VM)
/// is then paid per CPU, whatever the thread count. Pure: fed the records in
/// time order.
struct ProcessSelection: Sendable {
    private(set) var processes: Set<ProcessID>
    let tree: Bool
    /// Processes that exec a program of this name join (`--match`).
    let name: String?
    /// Every process seen joins (`--cgroup`: one moved into the cgroup
    /// announces itself only by its samples).
    let everyProcess: Bool
    /// Samples of other processes turned away since the last `takeDiscarded`.
    private var discarded = 0
    /// Processes that joined by a record other than a fork, not yet taken:
    /// nothing recorded their mappings.
    private var newcomers: [ProcessID] = []

    init(_ processes: Set<ProcessID>, tree: Bool, name: String? = nil, everyProcess: Bool = false) {
        self.processes = processes
        self.tree = tree
        self.name = name
        self.everyProcess = everyProcess
    }

    /// Whether `record` belongs to a selected process; a fork into the
    /// selection (a thread, or with `tree` a child process) joins it first.
    mutating func admits(_ record: PerfRecord) -> Bool {
        if everyProcess, case .fork(let pid, _, _, _, _) = record {
            processes.insert(pid)
        } else if everyProcess, let pid = Self.process(of: record), pid.rawValue > 0, !processes.contains(pid) {
            processes.insert(pid)
            newcomers.append(pid)
        }
        switch record {
        case .sample(let sample):
            if processes.contains(sample.pid) { return true }
            discarded += 1
            return false
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

    /// The process whose own task wrote `record` (a fork's or exit's is told by another).
    private static func process(of record: PerfRecord) -> ProcessID? {
        switch record {
        case .sample(let sample): sample.pid
        case .mmap(let pid, _, _, _), .comm(let pid, _, _, _, _): pid
        default: nil
        }
    }

    /// Samples of other processes turned away since the last call.
    mutating func takeDiscarded() -> Int {
        defer { discarded = 0 }
        return discarded
    }

    /// The processes that joined without a fork since the last call.
    mutating func takeNewcomers() -> [ProcessID] {
        defer { newcomers = [] }
        return newcomers
    }

    /// `root`'s descendants alive now, from /proc (parent links).
    static func descendants(of root: ProcessID) -> Set<ProcessID> {
        Set(ProcessTreeUsage.read(root).descendants.keys)
    }
}
