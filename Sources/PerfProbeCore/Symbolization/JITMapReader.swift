/// Reads, at each telemetry tick, what each process with JIT code added to
/// its perf map (`PerfMapFollower`), and hands on the maps so far with why
/// any was not read.
final class JITMapReader: RecordConsumer {
    private let walker: StackWalker
    private var follower = PerfMapFollower()

    init(walker: StackWalker) {
        self.walker = walker
    }

    func tick(_ telemetry: TelemetryReader) {
        poll()
    }

    private func poll() {
        for pid in walker.jitProcesses { follower.poll(pid) }
    }

    func slice(into capture: inout Capture) {
        capture.perfMaps = follower.maps
        for (_, note) in follower.notes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where !capture.notes.contains(note) {
            capture.notes.append(note)
        }
    }

    func finish(into capture: inout Capture) {
        poll()
        slice(into: &capture)
    }
}
