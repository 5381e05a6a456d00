/// The names of the session's processes and threads: from /proc at attach,
/// then from COMM (a rename, an exec) and FORK records (a new thread starts
/// with its creator's name).
final class TaskNames: RecordConsumer {
    private var threads: [ThreadID: String] = [:]
    private var processes: [ProcessID: String] = [:]

    func joined(_ pid: ProcessID) {
        read(pid)
    }

    func attached(to pid: ProcessID) throws(SamplingError) {
        read(pid)
    }

    private func read(_ pid: ProcessID) {
        if let comm = try? Syscalls.readFile("/proc/\(pid)/comm") {
            processes[pid] = String(decoding: comm, as: UTF8.self).trimmingNewline
        }
        for task in Syscalls.listDirectory("/proc/\(pid)/task") {
            guard let tid = Int32(task), let comm = try? Syscalls.readFile("/proc/\(pid)/task/\(task)/comm") else { continue }
            threads[ThreadID(tid)] = String(decoding: comm, as: UTF8.self).trimmingNewline
        }
    }

    func consume(_ record: PerfRecord) {
        switch record {
        case .comm(let pid, let tid, _, let name, let exec):
            threads[tid] = name
            if exec || pid.rawValue == tid.rawValue { processes[pid] = name }
        case .fork(let pid, let parentPID, let tid, let parentTID, _):
            if pid != parentPID { processes[pid] = processes[parentPID] }
            if threads[tid] == nil { threads[tid] = threads[parentTID] }
        default:
            break
        }
    }

    func slice(into capture: inout Capture) {
        capture.threadNames = threads
        capture.processNames = processes
    }
}

extension String {
    var trimmingNewline: String {
        var s = self
        while s.last == "\n" { s.removeLast() }
        return s
    }
}
