/// `--off-cpu`: the intervals the followed threads spend off the CPU. A
/// context-switch sample opens one (its stack, walked like a CPU sample's,
/// is where the thread blocked), the switch-out record says whether the
/// thread was preempted, and the thread's next switch-in closes it. Threads
/// asleep at attach open one from then (their stack unseen; /proc names the
/// kernel function they sleep in). Blocked time is summed per (stack,
/// preempted); intervals still open at the end are closed then and counted.
/// A slice takes what was summed since the last, open intervals' time up to
/// the cut included, so that each slice holds the waiting done during it.
final class OffCPUAggregator: RecordConsumer {
    private struct Open {
        var pid: ProcessID
        var start: UInt64
        var stack: StackKey?
        var preempted = false
        var waitChannel: String?
    }

    private let walker: StackWalker
    private var open: [ThreadID: Open] = [:]
    private var part = OffCPUCapture()
    /// The first record's time: a thread whose first record is a switch-in
    /// was blocked since before it.
    private var firstTime: UInt64?

    init(walker: StackWalker) {
        self.walker = walker
    }

    func attached(to pid: ProcessID) throws(SamplingError) {
        joined(pid)
    }

    /// Its threads asleep now are waiting since before profiling began.
    func joined(_ pid: ProcessID) {
        let now = Syscalls.monotonicNanoseconds()
        for name in Syscalls.listDirectory("/proc/\(pid)/task") {
            guard let raw = Int32(name), open[ThreadID(raw)] == nil,
                  let stat = (try? Syscalls.readFile("/proc/\(pid)/task/\(raw)/stat")).flatMap({ ProcessStat.parse(Substring(decoding: $0, as: UTF8.self)) }),
                  stat.state == "S" || stat.state == "D" else { continue }
            let channel = (try? Syscalls.readFile("/proc/\(pid)/task/\(raw)/wchan"))
                .map { SymbolName.sanitized(String(decoding: $0.prefix(128), as: UTF8.self)) }
            open[ThreadID(raw)] = Open(pid: pid, start: now, waitChannel: channel?.isEmpty == false && channel != "0" ? channel : nil)
            part.startedBlocked += 1
        }
    }

    func consume(_ record: PerfRecord) {
        if firstTime == nil, let time = record.time, time > 0 { firstTime = time }
        switch record {
        case .sample(let sample) where sample.switchOut:
            let stack = walker.unwind(sample)
            var frames: [Frame] = []
            frames.reserveCapacity(stack.kernel.count + stack.user.count)
            for address in stack.kernel { frames.append(Frame(module: Frame.kernel, address: address)) }
            frames += walker.frames(stack.user, in: sample.pid)
            open[sample.tid] = Open(pid: sample.pid, start: sample.time, stack: StackKey(pid: sample.pid, tid: sample.tid, frames: frames))
            part.switchOuts += 1
        case .contextSwitch(let pid, let tid, let time, true, let preempted):
            // The sample comes first; without it (lost) the interval has no stack.
            if open[tid].map({ $0.start > time || time - $0.start > 1_000_000 }) ?? true {
                open[tid] = Open(pid: pid, start: time)
                part.withoutStack += 1
            }
            open[tid]?.preempted = preempted
        case .contextSwitch(let pid, let tid, let time, false, _):
            if let interval = open.removeValue(forKey: tid) {
                close(interval, tid: tid, at: time)
            } else if part.lifetimes[tid]?.born == nil, let since = firstTime, time > since {
                // Not asleep when profiling began, yet back on a CPU without
                // leaving one: it was waiting to run. (A thread born since
                // runs first without leaving a CPU.)
                part.startedBlocked += 1
                close(Open(pid: pid, start: since, preempted: true), tid: tid, at: time)
            }
        case .fork(let pid, _, let tid, _, let time):
            part.lifetimes[tid, default: .init(pid: pid)].born = time
        case .exit(let pid, _, let tid, _, let time):
            part.lifetimes[tid, default: .init(pid: pid)].died = time
            if let interval = open.removeValue(forKey: tid) { close(interval, tid: tid, at: time) }
        default:
            break
        }
    }

    /// Charges `interval` up to `end`; `ended`: it ends there (else it
    /// goes on into the next slice).
    private func close(_ interval: Open, tid: ThreadID, at end: UInt64, ended: Bool = true) {
        guard end >= interval.start else { return }
        let key = OffCPUCapture.Key(stack: interval.stack ?? StackKey(pid: interval.pid, tid: tid, frames: []), preempted: interval.preempted,
                                    waitChannel: interval.waitChannel)
        part.blocked[key, default: .init()].add(end - interval.start, ended: ended)
        if part.lifetimes[tid] == nil { part.lifetimes[tid] = .init(pid: interval.pid) }
    }

    func slice(into capture: inout Capture) {
        let now = Syscalls.monotonicNanoseconds()
        for (tid, interval) in open where now > interval.start {
            close(interval, tid: tid, at: now, ended: false)
            open[tid]?.start = now
        }
        take(into: &capture)
    }

    private func take(into capture: inout Capture) {
        capture.offCPU = part
        part = OffCPUCapture()
    }

    func finish(into capture: inout Capture) {
        let end = Syscalls.monotonicNanoseconds()
        for (tid, interval) in open {
            close(interval, tid: tid, at: end)
            part.openAtEnd += 1
        }
        open = [:]
        take(into: &capture)
    }
}
