/// Follows the heap probe's sampled allocations: which stack made each live
/// one, and per stack how much was allocated, freed and is still outstanding,
/// over time. Bytes are weighted: each sample stands for `weight` bytes.
struct HeapTracker {
    private struct Live {
        var stack: Int
        var weight: UInt64
        var time: UInt64
    }

    private struct LiveKey: Hashable {
        var pid: ProcessID
        var address: UInt64
    }

    /// A stack is a process's, whichever thread allocated: a server that
    /// runs each request on a thread of its own must not split one leak
    /// into thousands of one-sample stacks (nor a pool into one per worker).
    private struct StackID: Hashable {
        var pid: ProcessID
        var frames: [Frame]
    }

    private var live: [LiveKey: Live] = [:]
    private var index: [StackID: Int] = [:]
    private var keys: [StackID] = []
    private var stats: [HeapStackStats] = []
    private var series: [BoundedTimeline<HeapPoint>] = []
    private(set) var records = 0
    /// Which modules are the heap probe itself, whose frames head every
    /// sampled allocation's stack and are dropped.
    private var probeModules: [Int32: Bool] = [:]
    /// CLOCK_MONOTONIC ns of the session's start: the series' time zero.
    private let start: UInt64

    init(start: UInt64 = 0) {
        self.start = start
    }

    /// Walks a sampled allocation's stack like a CPU sample's, less the heap probe's own frames.
    mutating func allocated(_ allocation: HeapAllocation, walkedBy walker: StackWalker) {
        let stack = walker.unwind(allocation.asSample)
        let frames = walker.frames(stack.user, in: allocation.pid)
        var probe = probeModules
        let callers = frames.drop { frame in
            guard frame.module >= 0 else { return false }
            if let known = probe[frame.module] { return known }
            let isProbe = walker.modules[Int(frame.module)].path.hasSuffix("/" + HeapProbeLibrary.fileName)
            probe[frame.module] = isProbe
            return isProbe
        }
        probeModules = probe
        allocated(allocation, frames: Array(callers))
    }

    mutating func allocated(_ allocation: HeapAllocation, frames: [Frame]) {
        records += 1
        let stack = StackID(pid: allocation.pid, frames: frames)
        let id: Int
        if let known = index[stack] {
            id = known
        } else {
            id = keys.count
            index[stack] = id
            keys.append(stack)
            stats.append(HeapStackStats())
            series.append(BoundedTimeline(capacity: 1200))
        }
        stats[id].allocations += 1
        stats[id].allocatedBytes = stats[id].allocatedBytes.addingSaturated(allocation.weight)
        stats[id].estimatedObjects += Double(allocation.weight) / Double(max(allocation.size, 1))
        stats[id].outstandingBytes = stats[id].outstandingBytes.addingSaturated(allocation.weight)
        stats[id].outstandingObjects += 1
        backdate(id, time: allocation.time) { $0.addingSaturated(allocation.weight) }
        // An address handed out again was freed unseen (an unsampled realloc path): drop the old one.
        if let stale = live.updateValue(Live(stack: id, weight: allocation.weight, time: allocation.time),
                                        forKey: LiveKey(pid: allocation.pid, address: allocation.address)) {
            release(stale)
        }
    }

    /// A free at `time`; one older than the live allocation at that address
    /// belongs to an earlier one (frees arrive batched) and is ignored.
    mutating func freed(pid: ProcessID, address: UInt64, time: UInt64) {
        records += 1
        let key = LiveKey(pid: pid, address: address)
        guard let entry = live[key], entry.time <= time else { return }
        live[key] = nil
        release(entry)
        backdate(entry.stack, time: time) { $0 - min(entry.weight, $0) }
    }

    /// Records arrive in batches, and a thread that stops allocating holds
    /// its batch until it exits: ticks taken after a record's own time did
    /// not count it. Those points are corrected, so that a stack's series
    /// follows what happened when, not when the agent heard of it.
    private mutating func backdate(_ id: Int, time: UInt64, _ change: (UInt64) -> UInt64) {
        let t = Double(time &- start) / 1e9
        series[id].modify { points in
            var index = points.partitioningIndex { $0.t >= t }
            while index < points.count {
                points[index].outstandingBytes = change(points[index].outstandingBytes)
                index += 1
            }
        }
    }

    private mutating func release(_ entry: Live) {
        stats[entry.stack].frees += 1
        stats[entry.stack].freedBytes = stats[entry.stack].freedBytes.addingSaturated(entry.weight)
        stats[entry.stack].outstandingBytes -= min(entry.weight, stats[entry.stack].outstandingBytes)
        stats[entry.stack].outstandingObjects -= 1
    }

    /// Records each stack's outstanding bytes at `t` seconds.
    mutating func tick(_ t: Double) {
        for id in stats.indices { series[id].append(HeapPoint(t: t, outstandingBytes: stats[id].outstandingBytes)) }
    }

    func finish(now: UInt64, start: UInt64, sampleBytes: Int) -> HeapCapture {
        var result = stats
        for entry in live.values {
            let age = Double(now &- entry.time) / 1e9
            result[entry.stack].oldestLiveSeconds = max(result[entry.stack].oldestLiveSeconds ?? 0, age)
        }
        // The last point is now: frees after the last tick (a program's teardown) show in the series.
        let t = Double(now &- start) / 1e9
        for id in result.indices {
            result[id].series = series[id].points + [HeapPoint(t: t, outstandingBytes: result[id].outstandingBytes)]
        }
        return HeapCapture(sampleBytes: sampleBytes, records: records,
                           stacks: zip(keys, result).map { HeapCapture.Stack(pid: $0.pid, frames: $0.frames, stats: $1) })
    }
}

/// A stack's outstanding bytes at a moment.
public struct HeapPoint: Codable, Hashable, Sendable {
    public var t: Double
    public var outstandingBytes: UInt64
}

public struct HeapStackStats: Codable, Hashable, Sendable {
    /// Sampled allocations and frees, and the bytes they stand for.
    public var allocations = 0
    public var allocatedBytes: UInt64 = 0
    /// Allocations this stack is estimated to have made, sampled or not.
    public var estimatedObjects = 0.0
    public var frees = 0
    public var freedBytes: UInt64 = 0
    public var outstandingBytes: UInt64 = 0
    /// Sampled allocations still live.
    public var outstandingObjects = 0
    public var oldestLiveSeconds: Double?
    public var series: [HeapPoint] = []
}

/// What the heap probe reported, per allocating stack (frames not yet symbolized).
public struct HeapCapture: CapturePart {
    public struct Stack: Sendable {
        public var pid: ProcessID
        /// Leaf first, as in `StackKey`.
        public var frames: [Frame]
        public var stats: HeapStackStats
    }

    /// The mean of the Poisson sampling interval, in bytes; 0 when
    /// allocations were sampled by count (uprobes).
    public var sampleBytes: Int
    public var records: Int
    /// Sampled allocations the probe dropped: its ring full (the agent fell
    /// behind) or its table of live samples full.
    public var droppedSamples: UInt64 = 0
    /// Frees of sampled allocations the probe could not write (ring full).
    public var droppedFrees: UInt64 = 0
    public var stacks: [Stack]
    /// With `attach --heap`: the allocator probes.
    public var probes: AllocatorProbeSummary?
    /// How long allocations were traced, when not the whole profile
    /// (`attach --heap`: from arming to the end of the window or to the
    /// probes' removal): what the stacks' rates are per second of.
    public var tracedSeconds: Double?
    /// With `run --heap`: the memory the preloaded probe holds in the target.
    public var probeMemory: HeapProbeMemory?

    /// Outstanding bytes are a state: each slice carries all of it.
    public mutating func absorb(_ later: HeapCapture) {
        self = later
    }
}

extension Capture {
    /// With the heap probe: sampled allocations by stack.
    public var heap: HeapCapture? {
        get { self[HeapCapture.self] }
        set { self[HeapCapture.self] = newValue }
    }
}

/// The preloaded probe's own memory in the target, fixed from its start: its
/// private table of live samples (anonymous, mapped and touched at start,
/// never the target's allocator) and the ring it shares with the agent
/// (shared memory: RssShmem, not the anonymous memory whose growth is judged).
public struct HeapProbeMemory: Codable, Hashable, Sendable {
    public var privateBytes: UInt64
    public var sharedRingBytes: UInt64
}
