/// CPU time (clock ticks, user + system) of a process and of each of its
/// descendants, from /proc: to tell, after a plain attach, that the work
/// was in the target's children (a pre-fork server's master, a shell that
/// wrapped the real program).
struct ProcessTreeUsage: Sendable {
    var own: UInt64
    var descendants: [ProcessID: UInt64]

    static func read(_ root: ProcessID) -> ProcessTreeUsage {
        var children: [ProcessID: [ProcessID]] = [:]
        var ticks: [ProcessID: UInt64] = [:]
        for name in Syscalls.listDirectory("/proc") {
            guard let pid = Int32(name), let bytes = try? Syscalls.readFile("/proc/\(name)/stat"),
                  let stat = ProcessStat.parse(Substring(decoding: bytes, as: UTF8.self)) else { continue }
            children[ProcessID(stat.parent), default: []].append(ProcessID(pid))
            ticks[ProcessID(pid)] = stat.userTicks.addingSaturated(stat.systemTicks)
        }
        var descendants: [ProcessID: UInt64] = [:]
        var queue = children[root] ?? []
        while let pid = queue.popLast() {
            guard descendants[pid] == nil else { continue }
            descendants[pid] = ticks[pid] ?? 0
            queue += children[pid] ?? []
        }
        return ProcessTreeUsage(own: ticks[root] ?? 0, descendants: descendants)
    }

    /// CPU seconds used since `earlier`: the process's own, and its
    /// descendants' (those born since count whole).
    func since(_ earlier: ProcessTreeUsage, ticksPerSecond: Int) -> (own: Double, descendants: Double) {
        let perSecond = Double(max(ticksPerSecond, 1))
        let children = descendants.reduce(0.0) { sum, entry in
            sum + Double(entry.value &- min(earlier.descendants[entry.key] ?? 0, entry.value))
        }
        return (Double(own &- min(earlier.own, own)) / perSecond, children / perSecond)
    }
}
