import Dispatch
import FoundationEssentials
import Synchronization

/// Samples a target on a dedicated thread, which opens, owns and reads the
/// perf events (blocking in poll, not on the shared task pool). `start`
/// returns once the events are open — for a launched command, before it may
/// exec — and `finish` stops and hands back the `Capture`.
public final class Sampler: Sendable {
    private let stopRequested = Atomic<Bool>(false)
    private let sliceRequested = Atomic<Bool>(false)
    private let slice = Locked<Capture?>(nil)
    private let sliceSignal = DispatchSemaphore(value: 0)
    /// One slice at a time (the sidecar's loop and its phase endpoint both take them).
    private let sliceLock = Locked<Void>(())
    private let state = Locked<(ready: Result<Void, SamplingError>?, capture: Capture?)>((nil, nil))
    private let readySignal = DispatchSemaphore(value: 0)
    private let doneSignal = DispatchSemaphore(value: 0)
    private let onTargetExit: @Sendable () -> Void
    private let onNote: @Sendable (String) -> Void
    /// Written by `finish` so the sampling thread leaves poll at once.
    /// The eventfd that wakes the sampling thread from its poll.
    private let wake: FileDescriptor
    private var wakeFD: Int32 { wake.raw }

    /// `onTargetExit` is called from the sampling thread when an attached
    /// target is found gone; `onNote` once for each thing it could not see.
    /// `consumers` makes, on the sampling thread, the stages the records go to.
    static func start(_ configuration: SamplerConfiguration,
                      consumers: @escaping @Sendable (NoteBook, UInt64) throws(SamplingError) -> [any RecordConsumer],
                      onTargetExit: @escaping @Sendable () -> Void = {},
                      onNote: @escaping @Sendable (String) -> Void = { _ in }) throws(SamplingError) -> Sampler {
        let wake: FileDescriptor
        do {
            wake = FileDescriptor(try Syscalls.eventFD())
        } catch {
            throw .system("eventfd", error)
        }
        let sampler = Sampler(onTargetExit: onTargetExit, onNote: onNote, wake: wake)
        Syscalls.startThread(named: "perfprobe-sample") { sampler.run(configuration, consumers: consumers) }
        sampler.readySignal.wait()
        if case .failure(let error) = sampler.state.withLock({ $0.ready }) {
            sampler.doneSignal.wait()
            throw error
        }
        return sampler
    }

    private init(onTargetExit: @escaping @Sendable () -> Void, onNote: @escaping @Sendable (String) -> Void, wake: consuming FileDescriptor) {
        self.onTargetExit = onTargetExit
        self.onNote = onNote
        self.wake = wake
    }

    /// What was sampled since the previous slice; sampling goes on. Nil once stopped.
    public func takeSlice() -> Capture? {
        sliceLock.withLock { _ in sliceOnce() }
    }

    private func sliceOnce() -> Capture? {
        guard !stopRequested.load(ordering: .acquiring) else { return nil }
        sliceRequested.store(true, ordering: .releasing)
        Syscalls.signalEventFD(wakeFD)
        // Bounded: a slice asked for just as sampling stops may never be served.
        _ = sliceSignal.wait(timeout: .now() + 5)
        return slice.withLock { current in
            defer { current = nil }
            return current
        }
    }

    /// Stops sampling, drains what is left in the rings and returns the capture.
    public func finish() -> Capture {
        stopRequested.store(true, ordering: .releasing)
        Syscalls.signalEventFD(wakeFD)
        doneSignal.wait()
        doneSignal.signal()
        return state.withLock { $0.capture } ?? Capture()
    }

    private func run(_ configuration: SamplerConfiguration,
                     consumers: (NoteBook, UInt64) throws(SamplingError) -> [any RecordConsumer]) {
        do throws(SamplingError) {
            var loop = try SamplingLoop(configuration, wakeFD: wakeFD, consumers: consumers)
            try loop.attach()
            state.withLock { $0.ready = .success(()) }
            readySignal.signal()
            var reportedExit = false
            while !stopRequested.load(ordering: .acquiring) {
                if !loop.step() && !reportedExit {
                    reportedExit = true
                    onTargetExit()
                }
                loop.takeNotes().forEach(onNote)
                if sliceRequested.exchange(false, ordering: .acquiringAndReleasing) {
                    Syscalls.drainEventFD(wakeFD)
                    let taken = loop.takeSlice()
                    slice.withLock { $0 = taken }
                    sliceSignal.signal()
                }
            }
            // A slice asked for as sampling stopped gets nothing.
            if sliceRequested.exchange(false, ordering: .acquiringAndReleasing) { sliceSignal.signal() }
            let capture = loop.finish()
            state.withLock { $0.capture = capture }
        } catch {
            state.withLock { $0.ready = .failure(error) }
            readySignal.signal()
        }
        doneSignal.signal()
    }
}
