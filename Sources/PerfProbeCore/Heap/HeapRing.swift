import CPerfProbe

/// The agent's end of the heap probe's ring (probes/heapprobe/include/heapprobe.h):
/// a shared mapping of the memfd the command inherited, drained a hundred
/// times a second. Everything in it was written by the target.
struct HeapRing: ~Copyable {
    /// Record bytes: room for ~1,000 sampled allocations with their 16 KiB
    /// stack copies, 10 s of a program allocating 500 MiB/s at the default
    /// sampling mean, between two drains 10 ms apart.
    static let capacity: UInt64 = 16 << 20
    static let headerBytes = 4096
    /// How long a claimed record may stay unwritten before the agent gives
    /// up on it (its writer died or was stopped mid-record).
    static let stallNanoseconds: UInt64 = 1_000_000_000
    /// The probe's private memory in each process: its table of 64K live
    /// samples and its 16 KiB filter (probes/heapprobe/heapprobe.c).
    static let probePrivateBytes: UInt64 = 65536 * 8 + 16384

    private let base: UnsafeMutableRawPointer
    private let length: Int
    private var consumed: UInt64 = 0
    private var stalled: (at: UInt64, since: UInt64)?
    /// Where records are copied before they are parsed: a quarter of the ring
    /// a round, four rounds a drain at most.
    private var buffer = [UInt8](repeating: 0, count: Int(capacity / 4))
    /// Bytes of records skipped: unwritten past the stall limit, or malformed.
    private(set) var skippedBytes: UInt64 = 0
    /// Set once the ring held what no probe writes.
    private(set) var corrupted = false

    /// Creates the memfd (close-on-exec: the command gets a duplicate);
    /// the caller owns the fd.
    static func create() throws(Errno) -> Int32 {
        try valueOrErrno { CPerfProbe_heap_ring_create(capacity) }
    }

    /// Maps the ring `fd` holds (created by `create`).
    init(fd: Int32) throws(Errno) {
        length = Self.headerBytes + Int(Self.capacity)
        base = try Syscalls.mmapShared(fd, length: length, writable: true)
    }

    deinit {
        Syscalls.munmap(base, length: length)
    }

    /// The records written since the last call, parsed; each is checked by
    /// its caller against the processes of the session.
    mutating func take(now: UInt64) -> [HeapRecord] {
        take(now: now, rounds: 4)
    }

    /// The last drain, as sampling ends. A record claimed and never written
    /// (its writer killed mid-record) hides the length of everything after
    /// it: that is given up at once and counted in `skippedBytes`, said in a
    /// note, rather than dropped without a word.
    mutating func takeRemaining(now: UInt64) -> [HeapRecord] {
        let records = take(now: now, rounds: 5)
        if stalled != nil {
            skippedBytes = skippedBytes.addingSaturated(CPerfProbe_heap_ring_skip(base, Self.capacity, &consumed))
            stalled = nil
        }
        return records
    }

    private mutating func take(now: UInt64, rounds: Int) -> [HeapRecord] {
        var records: [HeapRecord] = []
        // Bounded: a target writing as fast as this reads must not hold the agent here.
        for _ in 0..<rounds {
            var status: Int32 = 0
            let before = consumed
            let copied = buffer.withUnsafeMutableBytes { out in
                CPerfProbe_heap_ring_take(base, Self.capacity, &consumed, out.baseAddress, out.count, &status)
            }
            buffer.withUnsafeBytes { records += HeapRecord.parseBatch(UnsafeRawBufferPointer(rebasing: $0[0..<copied])) }
            if status == 2 {
                // Written by the target, not the probe: what follows is not to be believed.
                corrupted = true
                skippedBytes = skippedBytes.addingSaturated(CPerfProbe_heap_ring_skip(base, Self.capacity, &consumed))
                return records
            }
            if status == 1 {
                if let stalled, stalled.at == consumed {
                    if now &- stalled.since >= Self.stallNanoseconds {
                        skippedBytes = skippedBytes.addingSaturated(CPerfProbe_heap_ring_skip(base, Self.capacity, &consumed))
                        self.stalled = nil
                    }
                } else {
                    stalled = (consumed, now)
                }
                return records
            }
            stalled = nil
            // A full buffer stopped the copy: go on from there.
            if consumed == before || copied == 0 { return records }
        }
        return records
    }

    /// What was lost on the way.
    struct Losses {
        /// Records the probe could not write (ring full) and samples it could
        /// not track (its table full), as it counted them.
        var allocations: UInt64
        var frees: UInt64
        var untracked: UInt64
        var skippedBytes: UInt64
        var corrupted: Bool
    }

    var losses: Losses {
        var allocations: UInt64 = 0, frees: UInt64 = 0, untracked: UInt64 = 0
        CPerfProbe_heap_ring_counters(base, &allocations, &frees, &untracked)
        return Losses(allocations: allocations, frees: frees, untracked: untracked, skippedBytes: skippedBytes, corrupted: corrupted)
    }
}
