/// The agent's scheduling priority. Attached to a process that keeps the
/// CPUs saturated (500 threads each wanting 10% of a core on two cores), an
/// agent of normal priority gets a fair share of 1/500th: a 2-s attach took
/// 29 s of wall time and lost a thousand records; at nice -20, 2,000 such
/// threads still left it 4% (37 s, 4,573 records lost). Attaching makes it
/// real-time at the lowest priority, as `perf record --realtime 1` does
/// (else nice -20): its few percent of CPU come when it needs them. For
/// `attach` and `sidecar` that happens before the agent loads (the
/// `perfprobe` launcher, probes/launcher) or, run directly, before main
/// (CPerfProbe's start-up constructor). Commands it starts get the priority
/// perfprobe was started with.
enum AgentPriority {
    /// perfprobe's nice value as started, read before any change.
    static var original: Int32 { Syscalls.startupNice() }

    /// What to say when `raise` could not.
    static let refusal = "perfprobe could not raise its scheduling priority (SCHED_FIFO or nice -20 need root or CAP_SYS_NICE): on saturated CPUs it may fall behind and lose records"

    /// Raises the calling thread's priority (and so of the threads it starts
    /// from now on); false when not permitted.
    @discardableResult
    static func raise() -> Bool { Syscalls.raisePriority() }
}
