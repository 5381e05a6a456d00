/// `run --heap`: drains the preloaded heap probe's ring, walks each sampled
/// allocation's stack and follows it to its free. The ring is written from
/// inside the target: a record must name a process of the session (one its
/// perf events follow), so that no pid in it makes the agent read another
/// process's mappings.
final class HeapProbeReader: RecordConsumer {
    private var ring: HeapRing
    private let sampleBytes: Int
    private let walker: StackWalker
    private let notes: NoteBook
    private var tracker: HeapTracker
    private let start: UInt64
    /// Records naming a process outside the session.
    private var rejected = 0
    /// Taken from the ring, not yet applied.
    private var taken: [HeapRecord] = []
    private var applied = 0

    init(channel: (fd: Int32, sampleBytes: Int), walker: StackWalker, notes: NoteBook, start: UInt64) throws(SamplingError) {
        do {
            ring = try HeapRing(fd: channel.fd)
        } catch {
            throw .system("cannot map the heap probe's ring", error)
        }
        sampleBytes = channel.sampleBytes
        self.walker = walker
        self.notes = notes
        self.start = start
        tracker = HeapTracker(start: start)
    }

    var ownsRing: Bool { true }

    /// Times the target wrote: a record out of order only misplaces its own stack.
    func takeOwnRecords(final: Bool) -> [UInt64] {
        let now = Syscalls.monotonicNanoseconds()
        taken = final ? ring.takeRemaining(now: now) : ring.take(now: now)
        applied = 0
        return taken.map(\.time)
    }

    func consumeOwnRecord() {
        guard applied < taken.count else { return }
        let record = taken[applied]
        applied += 1
        guard walker.knows(record.pid) else {
            rejected += 1
            return
        }
        switch record {
        case .allocation(let allocation): tracker.allocated(allocation, walkedBy: walker)
        case .free(let pid, let address, let time): tracker.freed(pid: pid, address: address, time: time)
        }
    }

    func tick(_ telemetry: TelemetryReader) {
        tracker.tick(Double(Syscalls.monotonicNanoseconds() - start) / 1e9)
    }

    func finish(into capture: inout Capture) {
        if rejected > 0 {
            notes.note("\(rejected) heap-probe records ignored: they named a process outside the session")
        }
        let losses = ring.losses
        var heap = tracker.finish(now: Syscalls.monotonicNanoseconds(), start: start, sampleBytes: sampleBytes)
        heap.droppedSamples = losses.allocations.addingSaturated(losses.untracked)
        heap.droppedFrees = losses.frees
        heap.probeMemory = HeapProbeMemory(privateBytes: HeapRing.probePrivateBytes,
                                           sharedRingBytes: UInt64(HeapRing.headerBytes) + HeapRing.capacity)
        capture.heap = heap
        if losses.frees > 0 {
            notes.note("the heap probe's ring was full for \(losses.frees) frees of sampled allocations: their stacks' outstanding bytes are overstated")
        }
        if losses.corrupted {
            notes.note("the heap probe's ring held records no probe writes (the target wrote into it): \(losses.skippedBytes) bytes ignored")
        } else if losses.skippedBytes > 0 {
            notes.note("\(losses.skippedBytes) bytes of heap-probe records were never completed (a writer stopped mid-record) and were skipped")
        }
    }
}
