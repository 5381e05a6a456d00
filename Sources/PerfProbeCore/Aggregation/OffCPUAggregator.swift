/// `--off-cpu`: the intervals the followed threads spend off the CPU, as
/// `SwitchTracker`'s program times them in the kernel. A stack record (its
/// kernel frames, and its user stack walked like a CPU sample's) comes
/// before the interval it opened; the interval's record, as the thread
/// returns, closes it with its start, end and whether the thread left
/// runnable. An interval without a stack (not one of the N, or lost) is
/// counted and charged to the thread's sampled stacks by the report.
/// Threads asleep at attach are given an interval from then (their stack
/// unseen; /proc names the kernel function they sleep in). Blocked time is
/// summed per (stack, preempted); intervals still open at the end are
/// closed then and counted. A slice takes what was summed since the last,
/// open intervals' time up to the cut included, so that each slice holds
/// the waiting done during it.
final class OffCPUAggregator: RecordConsumer {
    private let walker: StackWalker
    private var tracker: SwitchTracker
    /// A launched target's first instructions are the exec: what it waited
    /// for before (perfprobe's own gate) is not its.
    private var armed: Bool
    /// Records taken, applied one by one among the perf records.
    private var taken: [SwitchRecord] = []
    private var next = 0
    /// The stack of each thread's latest sampled switch-out, by its start.
    private var stacks: [ThreadID: (start: UInt64, stack: StackKey)] = [:]
    /// Threads found asleep at attach: the kernel function they slept in.
    private var waitChannels: [ThreadID: String] = [:]
    /// Per thread, the start of the last interval closed: the program
    /// writes its record before it deletes it from the map, so a read of the
    /// map between the two still shows it open.
    private var closedStart: [ThreadID: UInt64] = [:]
    /// Per thread, the interval a slice cut and how far it was charged.
    private var charged: [ThreadID: (start: UInt64, upTo: UInt64)] = [:]
    private var part = OffCPUCapture()
    private var reportedLosses = (intervals: UInt64(0), stacks: UInt64(0), unopened: UInt64(0))
    /// When sampling stopped: what the program times after it is not the
    /// window's. (Taking the program off the tracepoint waits ~70 ms for the
    /// kernel: left to the end, so that the window does not include it.)
    private var stoppedAt: UInt64?

    /// `followChildren`: as the CPU samples follow them.
    init(walker: StackWalker, scope: SamplingScope, unwind: UnwindMode, followChildren: Bool) throws(SamplingError) {
        self.walker = walker
        tracker = try SwitchTracker(copyUserStack: unwind != .fp, followChildren: followChildren)
        if case .launched(let pid) = scope {
            armed = false
            tracker.follow(pid)
        } else {
            armed = true
        }
    }

    func attached(to pid: ProcessID) throws(SamplingError) {
        joined(pid)
    }

    /// Followed from now; its threads asleep now are waiting since before.
    func joined(_ pid: ProcessID) {
        tracker.follow(pid)
        let now = Syscalls.monotonicNanoseconds()
        for name in Syscalls.listDirectory("/proc/\(pid)/task") {
            guard let raw = Int32(name),
                  let stat = (try? Syscalls.readFile("/proc/\(pid)/task/\(raw)/stat")).flatMap({ ProcessStat.parse(Substring(decoding: $0, as: UTF8.self)) }),
                  stat.state == "S" || stat.state == "D",
                  tracker.markBlocked(ThreadID(raw), of: pid, since: now, runtime: Self.runtime(of: ThreadID(raw), in: pid)) else { continue }
            let channel = (try? Syscalls.readFile("/proc/\(pid)/task/\(raw)/wchan"))
                .map { SymbolName.sanitized(String(decoding: $0.prefix(128), as: UTF8.self)) }
            if let channel, !channel.isEmpty, channel != "0" { waitChannels[ThreadID(raw)] = channel }
            part.startedBlocked += 1
        }
    }

    /// A thread's run time (ns), the first figure of /proc's schedstat; 0
    /// when unread (an interval whose return goes untraced then ends at once).
    private static func runtime(of tid: ThreadID, in pid: ProcessID) -> UInt64 {
        let text = (try? Syscalls.readFile("/proc/\(pid)/task/\(tid)/schedstat")).map { String(decoding: $0.prefix(128), as: UTF8.self) }
        return text.flatMap { $0.split(separator: " ").first.flatMap { UInt64($0) } } ?? 0
    }

    var ownsRing: Bool { true }

    func takeOwnRecords(final: Bool) -> [UInt64] {
        taken = Array(taken[next...]) + tracker.take()
        next = 0
        return taken.map { record in
            switch record {
            case .interval(let interval): interval.end
            case .stacks(let sample): sample.time
            }
        }
    }

    func consumeOwnRecord() {
        guard next < taken.count else { return }
        let record = taken[next]
        next += 1
        guard armed else { return }
        switch record {
        case .stacks(let sample) where sample.time < stoppedAt ?? .max:
            let stack = walker.unwind(sample)
            var frames: [Frame] = []
            frames.reserveCapacity(stack.kernel.count + stack.user.count)
            for address in stack.kernel { frames.append(Frame(module: Frame.kernel, address: address)) }
            frames += walker.frames(stack.user, in: sample.pid)
            stacks[sample.tid] = (sample.time, StackKey(pid: sample.pid, tid: sample.tid, frames: frames))
            part.switchOuts += 1
        case .interval(var interval) where interval.start < stoppedAt ?? .max:
            interval.end = min(interval.end, stoppedAt ?? .max)
            if interval.returnUnseen { part.returnsUnseen += 1 }
            close(interval, ended: true)
            closedStart[interval.tid] = interval.start
        default:
            break
        }
    }

    func consume(_ record: PerfRecord) {
        switch record {
        case .comm(let pid, let tid, let time, _, true):
            // The launched target's life begins at its exec, as its waits do.
            if !armed { part.lifetimes[tid, default: .init(pid: pid)].born = time }
            armed = true
            tracker.follow(pid)
        case .fork(let pid, _, let tid, _, let time):
            // Every fork the sampling event reports is of a followed process;
            // a thread's id the fork program followed is no process's.
            tracker.follow(pid)
            if tid.rawValue != pid.rawValue { tracker.unfollow(ProcessID(tid.rawValue)) }
            part.lifetimes[tid, default: .init(pid: pid)].born = time
        case .exit(let pid, _, let tid, _, let time):
            part.lifetimes[tid, default: .init(pid: pid)].died = time
            // The main thread's exit ends the process unless it left others
            // running (pthread_exit); the number may then come back as another's.
            if tid.rawValue == pid.rawValue, Syscalls.listDirectory("/proc/\(pid)/task").allSatisfy({ $0 == String(pid.rawValue) }) {
                tracker.unfollow(pid)
            }
            stacks[tid] = nil
            charged[tid] = nil
            closedStart[tid] = nil
            waitChannels[tid] = nil
        default:
            break
        }
    }

    func tick(_ telemetry: TelemetryReader) {
        tracker.adapt()
    }

    /// Charges `interval` (what a slice has not charged of it yet); `ended`:
    /// it ends there (else it goes on into the next slice).
    private func close(_ interval: SwitchRecord.Interval, ended: Bool) {
        let tid = interval.tid
        var start = interval.start
        if let cut = charged[tid], cut.start == interval.start {
            start = max(start, cut.upTo)
            if ended { charged[tid] = nil }
        }
        var stack: StackKey?
        if interval.sampled, let sampled = stacks[tid], sampled.start == interval.start {
            stack = sampled.stack
            if ended { stacks[tid] = nil }
        }
        let channel = interval.began ? waitChannels[tid] : nil
        if ended {
            if interval.began { waitChannels[tid] = nil } else if stack == nil { part.withoutStack += 1 }
        }
        guard interval.end >= start else { return }
        let key = OffCPUCapture.Key(stack: stack ?? StackKey(pid: interval.pid, tid: tid, frames: []), preempted: interval.runnable,
                                    waitChannel: channel)
        part.blocked[key, default: .init()].add(interval.end - start, ended: ended)
        if part.lifetimes[tid] == nil { part.lifetimes[tid] = .init(pid: interval.pid) }
    }

    func slice(into capture: inout Capture) {
        let now = Syscalls.monotonicNanoseconds()
        for interval in tracker.openIntervals(end: now) where armed && closedStart[interval.tid] != interval.start {
            close(interval, ended: false)
            charged[interval.tid] = (interval.start, now)
        }
        take(into: &capture)
    }

    private func take(into capture: inout Capture) {
        let losses = tracker.losses
        if losses.intervals > reportedLosses.intervals || losses.stacks > reportedLosses.stacks {
            capture.notes.append("off-CPU: the BPF ring had no room for \(losses.intervals) intervals and \(losses.stacks) stack records (the agent fell behind)")
        }
        if losses.unopened > reportedLosses.unopened {
            capture.notes.append("off-CPU: \(losses.unopened) switch-outs were not timed: more than \(SwitchTracker.openIntervals) threads were off the CPU at once")
        }
        reportedLosses = losses
        capture.offCPU = part
        part = OffCPUCapture()
    }

    func stop() {
        stoppedAt = Syscalls.monotonicNanoseconds()
    }

    func finish(into capture: inout Capture) {
        let end = stoppedAt ?? Syscalls.monotonicNanoseconds()
        for interval in tracker.openIntervals(end: end) where armed && closedStart[interval.tid] != interval.start {
            close(interval, ended: true)
            part.openAtEnd += 1
        }
        take(into: &capture)
    }
}
