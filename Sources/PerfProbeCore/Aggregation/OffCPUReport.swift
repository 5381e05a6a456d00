import FoundationEssentials

/// `--off-cpu` in the report: where the threads waited, why, and for how
/// long; per thread, its lifetime in the window split into on-CPU time (its
/// CPU samples) and blocked time (its intervals), by reason.
public struct OffCPUReport: Codable, Sendable {
    public struct Stack: Codable, Sendable {
        public var pid: ProcessID
        public var tid: ThreadID
        /// Indices into `functions`, leaf first: kernel frames, then user
        /// frames. Empty when the stack was not seen.
        public var frames: [Int]
        /// sleep, lock, io, poll, page_fault, preempted or other.
        public var reason: String
        public var blockedSeconds: Double
        /// Intervals merged into this stack.
        public var switches: Int
        public var longestSeconds: Double
    }

    public struct Thread: Codable, Sendable {
        public var pid: ProcessID
        public var tid: ThreadID
        public var name: String
        /// From its birth (or the start) to its exit (or the end).
        public var lifetimeSeconds: Double
        /// Its CPU samples times the sampling period.
        public var onCpuSeconds: Double
        public var blockedSeconds: Double
        public var blockedByReason: [String: Double]
        public var switches: Int
        public var longestSeconds: Double
    }

    /// A function where threads blocked: each stack is charged to its first
    /// frame outside the kernel and the C and C++ runtime libraries.
    public struct Blocker: Codable, Sendable {
        public var function: String
        public var module: String
        public var reason: String
        public var blockedSeconds: Double
        /// Of all threads' blocked time.
        public var percent: Double
    }

    public static let reasons = ["sleep", "lock", "io", "poll", "page_fault", "preempted", "other"]

    public var functions: [SymbolizedFrame]
    /// Most blocked time first.
    public var stacks: [Stack]
    /// Most blocked time first.
    public var threads: [Thread]
    public var blockers: [Blocker]
    /// Switch-outs whose stacks were taken.
    public var switchOuts: Int
    /// Intervals timed without a stack: the switch program
    /// (`SwitchTracker`) kept another's in a storm, or the record was lost. Their time is
    /// spread over their thread's sampled stacks.
    public var withoutStack: Int
    /// Intervals already under way when profiling began (stack unseen).
    public var startedBlocked: Int
    /// Intervals still open when profiling ended, closed then.
    public var openAtEnd: Int
    /// Intervals whose return to a CPU the kernel did not trace (it traces
    /// no switch out of some tasks), ended from the thread's run time at its
    /// next switch-out. Absent in reports from before it was counted.
    public var returnsUnseen: Int?

    /// The reason of an interval, from its kernel frames (leaf first: the
    /// one nearest schedule() that tells decides) and whether it left runnable.
    static func reason(kernelFunctions: [String], preempted: Bool) -> String {
        if preempted { return "preempted" }
        for function in kernelFunctions {
            if function.contains("nanosleep") { return "sleep" }
            if function.contains("futex") { return "lock" }
            if ["handle_mm_fault", "do_user_addr_fault", "exc_page_fault", "filemap_fault", "do_swap_page"].contains(function) {
                return "page_fault"
            }
            if function.contains("poll") || function.contains("select") { return "poll" }
            if function.contains("accept") { return "io" }
            if ["pipe_read", "pipe_write", "vfs_read", "vfs_write", "ksys_read", "ksys_write", "sock_recvmsg", "sock_sendmsg",
                "unix_stream_read_generic", "tcp_recvmsg", "__sys_recvfrom", "__sys_sendto", "do_iter_readv_writev",
                "wait_on_page_bit", "folio_wait_bit_common", "io_schedule"].contains(function)
                || function.hasSuffix("sys_read") || function.hasSuffix("sys_write") || function.hasSuffix("sys_recvfrom")
                || function.hasSuffix("sys_recvmsg") || function.hasSuffix("sys_sendmsg") || function.hasSuffix("sys_accept4") {
                return "io"
            }
        }
        return "other"
    }

    /// The reason of the intervals of `key`, whose kernel frames (leaf
    /// first) are named `kernelFunctions`: an unseen stack goes by where the
    /// thread slept when profiling began.
    static func reason(of key: OffCPUCapture.Key, kernelFunctions: [String]) -> String {
        reason(kernelFunctions: kernelFunctions.isEmpty ? key.waitChannel.map { [$0] } ?? [] : kernelFunctions, preempted: key.preempted)
    }

    /// The C and C++ runtime: where a thread enters the kernel, not why.
    static func isRuntimeLibrary(_ module: String) -> Bool {
        ["libc.so", "libpthread.so", "ld-linux", "libstdc++.so", "libgcc_s.so", "[vdso]"].contains { module.hasPrefix($0) }
    }

    static func build(_ part: OffCPUCapture, cpuSamples: [ThreadID: (pid: ProcessID, samples: Int)], name: (ThreadID, ProcessID) -> String,
                      start: UInt64, end: UInt64, frequency: Int, symbolizer: inout Symbolizer) -> OffCPUReport {
        symbolizer.prepare(part.blocked.keys.flatMap(\.stack.frames))
        var table = Profile.FunctionTable()
        var stacks: [Stack] = []
        var blockers: [String: (Blocker, Double)] = [:]
        for (key, figures) in Self.spreadingUnsampled(part.blocked) {
            let chains = key.stack.frames.map { table.chain(of: $0, symbolizer: &symbolizer) }
            let frames = chains.flatMap { $0 }
            let named = frames.map { table.functions[$0] }
            let reason = Self.reason(of: key, kernelFunctions: named.prefix { $0.kernel }.map(\.function))
            let seconds = Double(figures.nanoseconds) / 1e9
            stacks.append(Stack(pid: key.stack.pid, tid: key.stack.tid, frames: frames, reason: reason, blockedSeconds: seconds,
                                switches: figures.intervals, longestSeconds: Double(figures.longest) / 1e9))
            // Blamed: the function whose own code made the call that waited, as the symbol table names it (a
            // helper inlined into it is a frame of the stack, but two callers' waits in one helper stay apart).
            let user = chains.compactMap(\.last).map { table.functions[$0] }.filter { !$0.kernel }
            let blamed = user.first { !isRuntimeLibrary($0.module) } ?? user.first ?? named.first
            let unseen = key.waitChannel.map { "[asleep in \($0) since before profiling]" } ?? "[stack not seen]"
            let function = blamed?.function ?? unseen, module = blamed?.module ?? ""
            blockers[function + "\u{1}" + module + "\u{1}" + reason, default: (Blocker(function: function, module: module, reason: reason,
                                                                                        blockedSeconds: 0, percent: 0), 0)].1 += seconds
        }
        stacks.sort { ($0.blockedSeconds, $1.tid) > ($1.blockedSeconds, $0.tid) }
        let total = stacks.reduce(0) { $0 + $1.blockedSeconds }

        var threads: [ThreadID: Thread] = [:]
        let window = Double(end &- start) / 1e9
        let period = 1 / Double(max(frequency, 1))
        for (tid, entry) in cpuSamples {
            threads[tid] = Thread(pid: entry.pid, tid: tid, name: name(tid, entry.pid), lifetimeSeconds: window,
                                  onCpuSeconds: Double(entry.samples) * period, blockedSeconds: 0, blockedByReason: [:], switches: 0,
                                  longestSeconds: 0)
        }
        for (tid, lifetime) in part.lifetimes {
            let born = max(lifetime.born ?? start, start), died = min(lifetime.died ?? end, end)
            var thread = threads[tid] ?? Thread(pid: lifetime.pid, tid: tid, name: name(tid, lifetime.pid), lifetimeSeconds: 0,
                                                onCpuSeconds: 0, blockedSeconds: 0, blockedByReason: [:], switches: 0, longestSeconds: 0)
            thread.lifetimeSeconds = died > born ? Double(died - born) / 1e9 : 0
            threads[tid] = thread
        }
        for stack in stacks {
            guard var thread = threads[stack.tid] else { continue }
            thread.blockedSeconds += stack.blockedSeconds
            thread.blockedByReason[stack.reason, default: 0] += stack.blockedSeconds
            threads[stack.tid] = thread
        }
        // Counted over every interval as timed, those without a stack too:
        // spreading moves their time, not their length.
        for (key, figures) in part.blocked {
            guard var thread = threads[key.stack.tid] else { continue }
            thread.switches += figures.intervals
            thread.longestSeconds = max(thread.longestSeconds, Double(figures.longest) / 1e9)
            threads[key.stack.tid] = thread
        }
        return OffCPUReport(
            functions: table.functions, stacks: stacks,
            threads: threads.values.sorted { ($0.blockedSeconds, $1.tid) > ($1.blockedSeconds, $0.tid) },
            blockers: blockers.values.map { blocker, seconds in
                var blocker = blocker
                blocker.blockedSeconds = seconds
                blocker.percent = total > 0 ? seconds * 100 / total : 0
                return blocker
            }.sorted { ($0.blockedSeconds, $1.function) > ($1.blockedSeconds, $0.function) },
            switchOuts: part.switchOuts, withoutStack: part.withoutStack, startedBlocked: part.startedBlocked, openAtEnd: part.openAtEnd,
            returnsUnseen: part.returnsUnseen)
    }

    /// Intervals timed without a stack (the switch program kept another's, or
    /// the record was lost) take the shape of the same thread's sampled
    /// intervals of the same kind (preempted or not): their time and count
    /// are spread over those stacks in proportion to the stacks' time. Kept
    /// as they are when the thread has no such stack.
    static func spreadingUnsampled(_ blocked: [OffCPUCapture.Key: OffCPUCapture.Figures]) -> [OffCPUCapture.Key: OffCPUCapture.Figures] {
        var result = blocked
        let sampled = Dictionary(grouping: blocked.filter { !$0.key.stack.frames.isEmpty }) { ThreadKind(tid: $0.key.stack.tid, preempted: $0.key.preempted) }
        for (key, figures) in blocked where key.stack.frames.isEmpty && key.waitChannel == nil {
            guard let peers = sampled[ThreadKind(tid: key.stack.tid, preempted: key.preempted)] else { continue }
            let total = Double(peers.reduce(UInt64(0)) { $0 &+ $1.value.nanoseconds })
            guard total > 0 else { continue }
            result[key] = nil
            for (peer, own) in peers {
                let share = Double(own.nanoseconds) / total
                result[peer]?.nanoseconds &+= UInt64(exactly: (Double(figures.nanoseconds) * share).rounded()) ?? 0
                result[peer]?.intervals += Int(exactly: (Double(figures.intervals) * share).rounded()) ?? 0
            }
        }
        return result
    }

    private struct ThreadKind: Hashable {
        var tid: ThreadID
        var preempted: Bool
    }

    /// Blocked seconds of `tid` in stacks that contain `function`.
    public func blockedSeconds(of tid: ThreadID, in function: String) -> Double {
        stacks.filter { $0.tid == tid && $0.frames.contains { functions[$0].function == function } }
            .reduce(0) { $0 + $1.blockedSeconds }
    }
}
