/// Chooses which allocator returns are sampled: each hit of the returns'
/// tracepoint independently, with a probability the agent sets, by a BPF
/// program the kernel runs before any perf event sees the hit. Independent
/// draws cannot lock onto a program's cycle of allocations the way a fixed
/// one-in-N count does (the 51st call of every request sampled every time,
/// or never), and they apply to every thread alike, those the target starts
/// later included (an inherited event's period cannot be changed: it keeps
/// its creator's). A rejected hit costs the program's run, not a perf
/// sample.
///
/// The program is set through an event of its own: the tracepoint on the
/// target's first thread, not inherited, never enabled. Set through an
/// event threads inherit, every thread's copy would hold it too, and each
/// copy freed at a thread's exit takes it off the tracepoint (for every
/// event) and then waits for an RCU-tasks-trace grace period: thread
/// exits slowed from 50 µs to ~1 ms, and after the first one every return
/// was sampled. Owns that event's, the program's and the map's fds.
struct ReturnSelection: ~Copyable {
    private let event: Int32
    private let program: Int32
    private let map: Int32

    /// Loads the filter and sets it on the tracepoint of `spec` (the returns'
    /// event) through an event of its own on `pid`, passing nothing until
    /// `probability` is set.
    init(_ spec: EventSpec, pid: Int32) throws(Errno) {
        var own = spec
        own.config.inherit = false
        own.config.disabled = true
        let event = try Syscalls.perfEventOpen(own.config, pid: pid, cpu: -1)
        let program: Int32, map: Int32
        do {
            (program, map) = try Syscalls.bernoulliFilter()
        } catch {
            Syscalls.close(event)
            throw error
        }
        do {
            try Syscalls.perfEventSetBPF(event, program: program)
        } catch {
            Syscalls.close(program)
            Syscalls.close(map)
            Syscalls.close(event)
            throw error
        }
        self.event = event
        self.program = program
        self.map = map
    }

    deinit {
        Syscalls.close(event)
        Syscalls.close(program)
        Syscalls.close(map)
    }

    /// Each return from now on is sampled with `probability` (0…1).
    func setProbability(_ probability: Double) throws(Errno) {
        let clamped = min(max(probability, 0), 1)
        try Syscalls.setBernoulliThreshold(map, UInt64(clamped * 4_294_967_296))
    }
}
