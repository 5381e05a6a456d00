/// Reads a process's /proc files and turns successive readings into
/// `TelemetryPoint`s (CPU % needs the previous reading).
struct ProcessTelemetry {
    let pid: ProcessID
    let startNanoseconds: UInt64
    private let ticksPerSecond = Double(Syscalls.clockTicksPerSecond())
    private let pageSize = UInt64(Syscalls.pageSize())
    private var previous: (nanoseconds: UInt64, user: UInt64, system: UInt64)?
    private let threadStatusInterval: UInt64
    /// The threads' context switches as last read, and when to read them next.
    private var switches: (next: UInt64, voluntary: UInt64, involuntary: UInt64)?
    /// A sweep of every thread's status waits this many times its own
    /// duration: the kernel formats a whole status file per thread, and
    /// beside 500 threads a sweep at every reading was most of the sampling
    /// thread's CPU (and delayed its first records by up to a second).
    private static let sweepDutyCycle: UInt64 = 50
    /// When smaps_rollup was last read.
    private var lastRollup: UInt64?

    /// `threadStatusInterval`: nanoseconds at least between readings of the
    /// threads' context switches (0: every reading, unless the sweep is slow).
    init(pid: ProcessID, startNanoseconds: UInt64, threadStatusInterval: UInt64 = 0) {
        self.pid = pid
        self.startNanoseconds = startNanoseconds
        self.threadStatusInterval = threadStatusInterval
    }

    /// The process's memory now; nil once it is gone.
    mutating func readMemory() -> MemoryPoint? {
        guard let status = try? Syscalls.readFile("/proc/\(pid)/status") else { return nil }
        let now = Syscalls.monotonicNanoseconds()
        // smaps_rollup walks the process's page tables (for its Pss): once a
        // second, not at every reading (a tenth of the sidecar's CPU beside
        // a 30 MB Python server).
        var rollup: KeyValueFile?
        if lastRollup.map({ now - $0 >= 1_000_000_000 }) ?? true {
            rollup = (try? Syscalls.readFile("/proc/\(pid)/smaps_rollup")).map { KeyValueFile.parse($0) }
            lastRollup = now
        }
        let t = Double(now - startNanoseconds) / 1e9
        return MemoryPoint.from(status: KeyValueFile.parse(status), rollup: rollup, t: t)
    }

    /// Nil once the process is gone (or has become a zombie).
    mutating func read() -> TelemetryPoint? {
        read(after: nil)
    }

    /// The closing reading, also of a launched command that has exited and
    /// is not yet reaped: its CPU time, faults and I/O are then final (the
    /// last periodic reading misses up to an interval of them). Its memory,
    /// threads and context switches, gone with it, are `last`'s.
    mutating func readFinal(after last: TelemetryPoint) -> TelemetryPoint? {
        read(after: last)
    }

    private mutating func read(after last: TelemetryPoint?) -> TelemetryPoint? {
        let now = Syscalls.monotonicNanoseconds()
        let base = "/proc/\(pid)"
        guard let statBytes = try? Syscalls.readFile(base + "/stat"),
              let stat = ProcessStat.parse(Substring(decoding: statBytes, as: UTF8.self)),
              stat.state != "X", stat.state != "Z" || last != nil
        else { return nil }
        if stat.state == "Z", let last {
            let io = (try? Syscalls.readFile(base + "/io")).map { KeyValueFile.parse($0, keys: ["read_bytes", "write_bytes"]) }
            var point = last
            point.t = Double(now - startNanoseconds) / 1e9
            (point.cpuUserPercent, point.cpuSystemPercent) = cpuPercent(now: now, stat: stat)
            point.minorFaults = max(stat.minorFaults, last.minorFaults)
            point.majorFaults = max(stat.majorFaults, last.majorFaults)
            point.readBytes = io?["read_bytes"] ?? last.readBytes
            point.writeBytes = io?["write_bytes"] ?? last.writeBytes
            return point
        }
        if switches.map({ now >= $0.next }) ?? true {
            var voluntary: UInt64 = 0
            var involuntary: UInt64 = 0
            for task in Syscalls.listDirectory(base + "/task") {
                guard let bytes = try? Syscalls.readFile("\(base)/task/\(task)/status") else { continue }
                let status = KeyValueFile.parse(bytes, keys: ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"])
                voluntary &+= status["voluntary_ctxt_switches"] ?? 0
                involuntary &+= status["nonvoluntary_ctxt_switches"] ?? 0
            }
            let end = Syscalls.monotonicNanoseconds()
            let wait = min(end &- now, UInt64.max / 4 / Self.sweepDutyCycle) * Self.sweepDutyCycle
            switches = (end &+ max(threadStatusInterval, wait), voluntary, involuntary)
        }
        let io = (try? Syscalls.readFile(base + "/io")).map { KeyValueFile.parse($0, keys: ["read_bytes", "write_bytes"]) }
        let (userPercent, systemPercent) = cpuPercent(now: now, stat: stat)
        return TelemetryPoint(
            t: Double(now - startNanoseconds) / 1e9,
            cpuUserPercent: userPercent, cpuSystemPercent: systemPercent,
            threads: stat.threads, rssBytes: stat.residentPages * pageSize,
            voluntaryContextSwitches: switches?.voluntary ?? 0, involuntaryContextSwitches: switches?.involuntary ?? 0,
            minorFaults: stat.minorFaults, majorFaults: stat.majorFaults,
            readBytes: io?["read_bytes"], writeBytes: io?["write_bytes"])
    }

    /// User and system CPU since the previous reading, % of one core.
    private mutating func cpuPercent(now: UInt64, stat: ProcessStat) -> (user: Double, system: Double) {
        defer { previous = (now, stat.userTicks, stat.systemTicks) }
        guard let previous, now > previous.nanoseconds else { return (0, 0) }
        let elapsedTicks = Double(now - previous.nanoseconds) / 1e9 * ticksPerSecond
        return (Double(stat.userTicks &- previous.user) / elapsedTicks * 100,
                Double(stat.systemTicks &- previous.system) / elapsedTicks * 100)
    }
}
