import Testing
@testable import PerfProbeCore

@Suite struct OffCPUReportTests {
    /// A thread's one long wait went without a stack (in a storm, or lost)
    /// and a short one was sampled: the long wait's time moves to the
    /// sampled stack, but the thread's longest wait and its count of waits
    /// are those of every interval timed.
    @Test func unsampledWaitKeepsItsLengthAndCount() {
        let pid = ProcessID(7), tid = ThreadID(7)
        var capture = OffCPUCapture()
        let sampled = OffCPUCapture.Key(stack: StackKey(pid: pid, tid: tid, frames: [Frame(module: Frame.unknown, address: 0x10)]), preempted: false)
        let unsampled = OffCPUCapture.Key(stack: StackKey(pid: pid, tid: tid, frames: []), preempted: false)
        capture.blocked[sampled, default: .init()].add(10_000_000)
        capture.blocked[unsampled, default: .init()].add(3_000_000_000)
        capture.lifetimes[tid] = .init(pid: pid, born: nil, died: nil)
        var symbolizer = Symbolizer(modules: [])
        let report = OffCPUReport.build(capture, cpuSamples: [:], name: { _, _ in "main" }, start: 0, end: 4_000_000_000,
                                        frequency: 99, symbolizer: &symbolizer)
        #expect(report.stacks.count == 1 && abs(report.stacks[0].blockedSeconds - 3.01) < 1e-9, "\(report.stacks)")
        let thread = report.threads.first
        #expect(thread?.switches == 2 && thread?.longestSeconds == 3.0, "\(String(describing: thread))")
        #expect(thread.map { abs($0.blockedSeconds - 3.01) < 1e-9 } == true)
    }
}
