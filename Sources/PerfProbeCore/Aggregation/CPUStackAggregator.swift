/// CPU samples into counts per unique stack: each sample walked (DWARF) by
/// the `StackWalker`, with the kernel's counts of what was lost or
/// throttled and how each stack was walked. A slice takes what was counted
/// since the last.
final class CPUStackAggregator: RecordConsumer {
    private let walker: StackWalker
    private var stacks: [StackKey: Int] = [:]
    private var samples = 0
    private var lostRecords: UInt64 = 0
    private var lostSamples: UInt64 = 0
    private var throttles = 0
    private var unwindOutcomes: [UnwindOutcome: Int] = [:]
    private var unwindNanoseconds: UInt64 = 0

    init(walker: StackWalker) {
        self.walker = walker
    }

    func consume(_ record: PerfRecord) {
        switch record {
        case .sample(let sample):
            samples += 1
            let started = Syscalls.monotonicNanoseconds()
            let stack = walker.unwind(sample)
            unwindNanoseconds += Syscalls.monotonicNanoseconds() - started
            unwindOutcomes[stack.outcome, default: 0] += 1
            var frames: [Frame] = []
            frames.reserveCapacity(stack.kernel.count + stack.user.count)
            for address in stack.kernel { frames.append(Frame(module: Frame.kernel, address: address)) }
            frames += walker.frames(stack.user, in: sample.pid)
            stacks[StackKey(pid: sample.pid, tid: sample.tid, frames: frames), default: 0] += 1
        case .lost(let count):
            lostRecords += count
        case .lostSamples(let count):
            lostSamples += count
        case .throttle:
            throttles += 1
        default:
            break
        }
    }

    func slice(into capture: inout Capture) {
        capture.stacks = stacks
        capture.samples = samples
        capture.lostRecords = lostRecords
        capture.lostSamples = lostSamples
        capture.throttles = throttles
        capture.unwinding.outcomes = unwindOutcomes
        capture.unwinding.nanoseconds = unwindNanoseconds
        stacks = [:]
        samples = 0
        lostRecords = 0
        lostSamples = 0
        throttles = 0
        unwindOutcomes = [:]
        unwindNanoseconds = 0
    }
}
