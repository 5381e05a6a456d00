/// The work of the sampling thread: owns the events, drains their rings,
/// applies side-band records in time order, unwinds and aggregates samples,
/// and reads /proc telemetry on a fixed interval.
struct SamplingLoop: ~Copyable {
    private var events: PerfEventGroup
    private var counters: CounterGroup
    private let configuration: SamplerConfiguration
    private let parser: PerfRecordParser
    private var unwinder: DwarfUnwinder
    private var spaces = AddressSpaces()
    private var telemetry: ProcessTelemetry
    private var capture = Capture()
    private var nextTick: UInt64
    private var timeline = BoundedTimeline<TelemetryPoint>(capacity: SamplerConfiguration.timelineCapacity)
    private var memoryTimeline = BoundedTimeline<MemoryPoint>(capacity: SamplerConfiguration.timelineCapacity)
    private var heap = HeapTracker()
    /// Which modules are the heap probe itself, whose frames head every
    /// sampled allocation's stack and are dropped.
    private var probeModules: [Int32: Bool] = [:]
    /// One SOCK_SEQPACKET message: a thread's batch of records (256 KiB at most).
    private var heapMessage = [UInt8](repeating: 0, count: 256 * 1024)
    private let wakeFD: Int32
    /// Records read while attaching, applied with the first round.
    private var pendingRecords: [PerfRecord] = []

    init(_ configuration: SamplerConfiguration, wakeFD: Int32) throws(SamplingError) {
        self.configuration = configuration
        self.wakeFD = wakeFD
        let pid = configuration.scope.pid
        parser = PerfRecordParser(layout: configuration.layout)
        // Both may throw: make them before initializing any noncopyable member.
        let unwinder = try DwarfUnwinder(mode: configuration.unwind)
        let events = try PerfEventGroup(scope: configuration.scope, event: configuration.event,
                                        frequency: configuration.frequency, includeKernel: configuration.includeKernel,
                                        layout: configuration.layout, cpus: OnlineCPUs.read(), dataPages: configuration.ringPages)
        self.unwinder = unwinder
        self.events = events
        counters = CounterGroup(scope: configuration.scope)
        counters.add(thread: ThreadID(pid.rawValue))
        let now = Syscalls.monotonicNanoseconds()
        capture.startNanoseconds = now
        telemetry = ProcessTelemetry(pid: pid, startNanoseconds: now)
        nextTick = now
    }

    /// Completes setup for an attached process: its other threads and its
    /// current mappings. (Separate from init: Swift cannot throw out of an
    /// init that has already initialized a noncopyable member.)
    mutating func attach() throws(SamplingError) {
        guard case .attached(let pid) = configuration.scope else { return }
        try followExistingThreads(of: pid)
        loadRunningProcess(pid)
    }

    /// Opens events for every thread of an attached process. A thread created
    /// by an already-followed thread inherits its events (and announces itself
    /// with PERF_RECORD_FORK); only the others need events of their own, and
    /// the scan repeats until no such thread appears.
    private mutating func followExistingThreads(of pid: ProcessID) throws(SamplingError) {
        var inherited = Set<ThreadID>()
        while true {
            let listed = Syscalls.listDirectory("/proc/\(pid)/task").compactMap { Int32($0).map { ThreadID($0) } }
            let fresh = listed.filter { !events.threads.contains($0) && !inherited.contains($0) }
            if fresh.isEmpty { return }
            for tid in try events.follow(fresh) { counters.add(thread: tid) }
            let records = events.drain().flatMap(parser.parse)
            for case .fork(_, _, let tid, _, _) in records { inherited.insert(tid) }
            pendingRecords += records
        }
    }

    /// One poll-and-drain round. Returns false once an attached target is gone.
    mutating func step() -> Bool {
        let now = Syscalls.monotonicNanoseconds()
        let wait = nextTick > now ? Int32((nextTick - now) / 1_000_000) : 0
        Syscalls.pollReadable(events.ringFDs + [wakeFD] + (configuration.heapChannel.map { [$0.fd] } ?? []),
                              timeoutMilliseconds: max(1, wait))
        process(events.drain())
        receiveHeapRecords()
        guard Syscalls.monotonicNanoseconds() >= nextTick else { return true }
        nextTick += configuration.telemetryIntervalNanoseconds
        let point = telemetry.read()
        if let point { timeline.append(point) }
        if configuration.trackMemory, point != nil, let memory = telemetry.readMemory() { memoryTimeline.append(memory) }
        if configuration.heapChannel != nil { heap.tick(Double(Syscalls.monotonicNanoseconds() - capture.startNanoseconds) / 1e9) }
        snapshotPerfMaps()
        guard case .attached = configuration.scope else { return true }
        return point != nil
    }

    consuming func finish() -> Capture {
        events.disable()
        process(events.drain())
        receiveHeapRecords()
        if let channel = configuration.heapChannel {
            capture.heap = heap.finish(now: Syscalls.monotonicNanoseconds(), start: capture.startNanoseconds,
                                       sampleBytes: channel.sampleBytes)
        }
        snapshotPerfMaps()
        capture.counters = counters.read()
        capture.timeline = timeline.points
        if configuration.trackMemory { capture.memoryTimeline = memoryTimeline.points }
        capture.endNanoseconds = Syscalls.monotonicNanoseconds()
        capture.modules = spaces.modules
        capture.modulesWithoutUnwindInfo = unwinder.modulesWithoutUnwindInfo.sorted()
        return capture
    }

    /// Reads what the heap probe sent: each sampled allocation is unwound like
    /// a CPU sample (less the probe's own frames); frees close them.
    private mutating func receiveHeapRecords() {
        guard let channel = configuration.heapChannel else { return }
        while true {
            let records: [HeapRecord]? = heapMessage.withUnsafeMutableBytes { buffer in
                guard let n = Syscalls.receive(channel.fd, into: buffer), n > 0 else { return nil }
                return HeapRecord.parseBatch(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
            guard let records else { return }
            for record in records { apply(record) }
        }
    }

    private mutating func apply(_ record: HeapRecord) {
        switch record {
        case .allocation(let allocation):
            let stack = unwinder.unwind(allocation.asSample, in: &spaces)
            let frames = stack.user.map { spaces.frame(for: $0, in: allocation.pid) }
            var probe = probeModules
            let callers = frames.drop { frame in
                guard frame.module >= 0 else { return false }
                if let known = probe[frame.module] { return known }
                let isProbe = spaces.modules[Int(frame.module)].path.hasSuffix("/" + HeapProbeLibrary.fileName)
                probe[frame.module] = isProbe
                return isProbe
            }
            probeModules = probe
            heap.allocated(allocation, stack: StackKey(pid: allocation.pid, tid: allocation.tid, frames: Array(callers)))
        case .frees(let pid, let entries):
            for entry in entries { heap.freed(pid: pid, address: entry.address, time: entry.time) }
        }
    }

    /// Keeps the latest perf map of each process with JIT code.
    private mutating func snapshotPerfMaps() {
        for pid in spaces.jitProcesses {
            let name = "/tmp/perf-\(pid).map"
            guard let bytes = (try? Syscalls.readFile("/proc/\(pid)/root" + name)) ?? (try? Syscalls.readFile(name)),
                  !bytes.isEmpty else { continue }
            capture.perfMaps[pid] = bytes
        }
    }

    private mutating func loadRunningProcess(_ pid: ProcessID) {
        let text = (try? Syscalls.readFile("/proc/\(pid)/maps")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        spaces.load(procMaps: MemoryMapping.parseProcMaps(Substring(text)), for: pid)
        if let comm = try? Syscalls.readFile("/proc/\(pid)/comm") {
            capture.processNames[pid] = String(decoding: comm, as: UTF8.self).trimmingNewline
        }
        for task in Syscalls.listDirectory("/proc/\(pid)/task") {
            guard let tid = Int32(task), let comm = try? Syscalls.readFile("/proc/\(pid)/task/\(task)/comm") else { continue }
            capture.threadNames[ThreadID(tid)] = String(decoding: comm, as: UTF8.self).trimmingNewline
        }
    }

    private mutating func process(_ chunks: [[UInt8]]) {
        guard !chunks.isEmpty || !pendingRecords.isEmpty else { return }
        // Rings are per CPU: merge them so mappings change before later samples.
        let records = (pendingRecords + chunks.flatMap(parser.parse)).enumerated()
            .sorted { ($0.element.time ?? 0, $0.offset) < ($1.element.time ?? 0, $1.offset) }
        pendingRecords = []
        for (_, record) in records { apply(record) }
    }

    private mutating func apply(_ record: PerfRecord) {
        switch record {
        case .sample(let sample):
            capture.samples += 1
            let started = Syscalls.monotonicNanoseconds()
            let stack = unwinder.unwind(sample, in: &spaces)
            capture.unwindNanoseconds += Syscalls.monotonicNanoseconds() - started
            capture.unwindOutcomes[stack.outcome, default: 0] += 1
            var frames: [Frame] = []
            frames.reserveCapacity(stack.kernel.count + stack.user.count)
            for address in stack.kernel { frames.append(Frame(module: Frame.kernel, address: address)) }
            for address in stack.user { frames.append(spaces.frame(for: address, in: sample.pid)) }
            capture.stacks[StackKey(pid: sample.pid, tid: sample.tid, frames: frames), default: 0] += 1
        case .mmap(let pid, _, _, let mapping):
            spaces.map(mapping, in: pid)
        case .comm(let pid, let tid, _, let name, let exec):
            capture.threadNames[tid] = name
            if exec { spaces.exec(pid) }
            if exec || pid.rawValue == tid.rawValue { capture.processNames[pid] = name }
        case .fork(let pid, let parentPID, let tid, let parentTID, _):
            if pid != parentPID {
                spaces.fork(pid, from: parentPID)
                capture.processNames[pid] = capture.processNames[parentPID]
            }
            if capture.threadNames[tid] == nil { capture.threadNames[tid] = capture.threadNames[parentTID] }
        case .lost(let count):
            capture.lostRecords += count
        case .lostSamples(let count):
            capture.lostSamples += count
        case .throttle:
            capture.throttles += 1
        case .exit, .unthrottle, .other:
            break
        }
    }
}

extension String {
    var trimmingNewline: String {
        var s = self
        while s.last == "\n" { s.removeLast() }
        return s
    }
}
