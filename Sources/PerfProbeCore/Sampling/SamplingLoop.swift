/// The work of the sampling thread: owns the events, drains their rings,
/// applies side-band records in time order, unwinds and aggregates samples,
/// and reads /proc telemetry on a fixed interval.
struct SamplingLoop: ~Copyable {
    private var events: PerfEventGroup
    private var counters: CounterGroup
    private let configuration: SamplerConfiguration
    private var parser: PerfRecordParser
    private var unwinder: DwarfUnwinder
    private var spaces = AddressSpaces()
    private var telemetry: ProcessTelemetry
    private var capture = Capture()
    private var nextTick: UInt64
    private var timeline: BoundedTimeline<TelemetryPoint>
    private var memoryTimeline: BoundedTimeline<MemoryPoint>
    private var heap: HeapTracker
    private var perfMaps = PerfMapFollower()
    /// Rings the kernel hung up (their task exited, or may no longer be
    /// sampled): drained, no longer polled.
    private var hungUp: Set<Int32> = []
    private var hungUpAt: UInt64?
    /// An attached target found gone at a telemetry reading.
    private var targetGone = false
    /// A reading was taken since the end of the last step.
    private var telemetryRead = false
    /// Said once, on stderr at once and in the report, by the sampler.
    private(set) var newNotes: [String] = []
    /// Heap-probe records naming a process outside the session.
    private var rejectedHeapRecords = 0
    /// Which modules are the heap probe itself, whose frames head every
    /// sampled allocation's stack and are dropped.
    private var probeModules: [Int32: Bool] = [:]
    private var heapRing: HeapRing?
    private let wakeFD: Int32
    /// Records read while attaching, applied with the first round.
    private var pendingRecords: [PerfRecord] = []
    /// With `attach --heap`: the allocator probes, their programs and the
    /// ring those write into, what their records mean, and when they were armed.
    private let probeEvents: AllocatorProbeEvents?
    private var programs: AllocatorProbePrograms?
    private var probeRing: ProbeRecordRing?
    private var matcher: AllocatorCallMatcher?
    private var armedAt: UInt64?
    /// The allocating calls counted when the share of returns sampled was last set, and when.
    private var callsAtLastTick = 0
    private var lastTickAt: UInt64 = 0
    /// When sampling began (CLOCK_MONOTONIC ns): slices move the capture's start, not this.
    private var sessionStart: UInt64
    /// Timeline time (s) up to which points went into a slice.
    private var sliceStart = -1.0
    /// Entry samples at no probed address (cannot happen unless the
    /// library's mapping changed under the probes): counted, not guessed.
    private var unknownProbeHits = 0
    private var disarmedAt: UInt64?
    /// When the probes began to be taken out at the end (CLOCK_MONOTONIC ns).
    private var probesClosedAt: UInt64?
    /// Chosen returns without a block in RAX handled so far.
    private var returnsWithoutBlock: UInt64 = 0

    init(_ configuration: SamplerConfiguration, wakeFD: Int32) throws(SamplingError) {
        self.configuration = configuration
        self.wakeFD = wakeFD
        timeline = BoundedTimeline(capacity: configuration.timelineCapacity)
        memoryTimeline = BoundedTimeline(capacity: configuration.timelineCapacity)
        let pid = configuration.scope.pid
        parser = PerfRecordParser(layout: configuration.layout)
        // Both may throw: make them before initializing any noncopyable member.
        let unwinder = try DwarfUnwinder(mode: configuration.unwind)
        let ringBytes = configuration.ringPages * Syscalls.pageSize()
        let probes = configuration.heapProbes?.events
        let specs = [EventSpec.sampling(configuration.event, frequency: configuration.frequency,
                                        includeKernel: configuration.includeKernel, layout: configuration.layout,
                                        scope: configuration.scope, ringBytes: ringBytes)]
        var probeRing: ProbeRecordRing?
        var programs: AllocatorProbePrograms?
        if let probes {
            do {
                let ring = try ProbeRecordRing(bytes: Self.probeRingBytes)
                programs = try AllocatorProbePrograms(probes.probes, ring: ring, stackSize: configuration.stackSize)
                probeRing = consume ring
            } catch let error as Errno {
                throw .heapProbes(.bpf("creating the allocator probes' ring buffer", error.description))
            } catch let error as HeapProbeError {
                throw .heapProbes(error)
            } catch {
                throw .heapProbes(.bpf("setting up the allocator probes", "\(error)"))
            }
        }
        let events = try PerfEventGroup(scope: configuration.scope, specs: specs, cpus: OnlineCPUs.read(),
                                        dataPages: configuration.ringPages)
        var ring: HeapRing?
        if let channel = configuration.heapChannel {
            do {
                ring = try HeapRing(fd: channel.fd)
            } catch {
                throw .system("cannot map the heap probe's ring", error)
            }
        }
        heapRing = ring
        probeEvents = probes
        self.probeRing = probeRing
        self.programs = programs
        parser.layouts = events.layoutsByID
        matcher = probes.map { AllocatorCallMatcher(plan: $0.plan) }
        self.unwinder = unwinder
        self.events = events
        counters = CounterGroup(scope: configuration.scope)
        counters.add(thread: ThreadID(pid.rawValue))
        let now = Syscalls.monotonicNanoseconds()
        capture.startNanoseconds = now
        sessionStart = now
        heap = HeapTracker(start: now)
        telemetry = ProcessTelemetry(pid: pid, startNanoseconds: now,
                                     threadStatusInterval: configuration.threadStatusIntervalNanoseconds)
        nextTick = now
        if let settings = configuration.heapProbes, !settings.armOnGrowth { armedAt = now }
    }

    /// Completes setup for an attached process: its other threads and its
    /// current mappings. (Separate from init: Swift cannot throw out of an
    /// init that has already initialized a noncopyable member.)
    mutating func attach() throws(SamplingError) {
        guard case .attached(let pid) = configuration.scope else { return }
        try followExistingThreads(of: pid)
        loadRunningProcess(pid)
        if armedAt != nil, let probeEvents { try programs?.attach(probeEvents.events.indices, pid: pid) }
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
            parser.layouts = events.layoutsByID
            let records = events.drain().flatMap(parser.parse)
            for case .fork(_, _, let tid, _, _) in records { inherited.insert(tid) }
            pendingRecords += records
        }
    }

    /// One poll-and-drain round. Returns false once an attached target is gone.
    mutating func step() -> Bool {
        let now = Syscalls.monotonicNanoseconds()
        let wait = nextTick > now ? Int32((nextTick - now) / 1_000_000) : 0
        let rings = events.ringFDs.filter { !hungUp.contains($0) }
        // The heap rings wake no one: they are drained a hundred times a second.
        let drainedByClock = heapRing != nil || probeRing != nil
        let hangUps = Syscalls.pollReadable(rings + [wakeFD],
                                            timeoutMilliseconds: max(1, drainedByClock ? min(wait, 10) : wait))
        if !hangUps.isEmpty { ringsHungUp(hangUps) }
        process(events.drain(), probes: probeRing?.take() ?? [])
        receiveHeapRecords()
        readTelemetryIfDue()
        if telemetryRead {
            telemetryRead = false
            afterTelemetry()
        }
        guard case .attached = configuration.scope else { return true }
        return !targetGone
    }

    /// Reads the process's telemetry when due. Called between records too:
    /// an agent slowed by a flood of records (or by a sanitizer) still reads
    /// the timeline on time, so the memory verdict does not depend on how
    /// fast the agent is. What follows a reading waits for the end of the
    /// step (`afterTelemetry`): it wants every record drained so far.
    private mutating func readTelemetryIfDue() {
        guard Syscalls.monotonicNanoseconds() >= nextTick else { return }
        nextTick += configuration.telemetryIntervalNanoseconds
        telemetryRead = true
        let point = telemetry.read()
        if point == nil { targetGone = true }
        // A launched command caught in the middle of its exec has no memory
        // yet: alive, but not a point of its timeline.
        let measurable = point.map { $0.rssBytes > 0 } ?? false
        if let point, measurable { timeline.append(point) }
        if configuration.trackMemory, measurable, let memory = telemetry.readMemory() { memoryTimeline.append(memory) }
    }

    private mutating func afterTelemetry() {
        if configuration.heapChannel != nil || (armedAt != nil && disarmedAt == nil) {
            heap.tick(Double(Syscalls.monotonicNanoseconds() - sessionStart) / 1e9)
        }
        if configuration.heapProbes != nil {
            updateArming()
            adaptReturnPeriod()
        }
        followPerfMaps()
        checkCutOff()
    }

    /// A launched target whose rings hung up while it still runs was cut
    /// off by the kernel: it exec'd a set-user-ID or file-capability program
    /// that this perfprobe may not follow. Rings also hang up as a process
    /// exits, before /proc shows it a zombie: so it must still be running
    /// a while later (`checkCutOff`). Said once, with the way out.
    private mutating func ringsHungUp(_ fds: [Int32]) {
        hungUp.formUnion(fds)
        if hungUpAt == nil { hungUpAt = Syscalls.monotonicNanoseconds() }
    }

    private mutating func checkCutOff() {
        guard let since = hungUpAt, Syscalls.monotonicNanoseconds() - since >= 300_000_000 else { return }
        hungUpAt = nil
        guard case .launched(let pid) = configuration.scope,
              let stat = (try? Syscalls.readFile("/proc/\(pid)/stat")).flatMap({ ProcessStat.parse(Substring(decoding: $0, as: UTF8.self)) }),
              stat.state != "Z", stat.state != "X" else { return }
        note("the kernel stopped sampling pid \(pid) (\(SymbolName.sanitized(stat.command))) while it still runs: it executed a set-user-ID or file-capability program, which only root or CAP_PERFMON may profile")
    }

    private mutating func note(_ text: String) {
        guard !capture.notes.contains(text) else { return }
        capture.notes.append(text)
        newNotes.append(text)
    }

    /// Notes made since the last call.
    mutating func takeNotes() -> [String] {
        defer { newNotes = [] }
        return newNotes
    }

    /// What was sampled since the previous slice (stacks, counts, the
    /// timeline points read meanwhile, and the modules so far), leaving the
    /// loop running: the sidecar's unit of time, which keeps its memory
    /// bounded however long it runs.
    /// The probe ring's size: a second of a busy allocator's entries (~100
    /// bytes a call) or 250 stack copies of 64 KiB.
    static let probeRingBytes = 16 << 20

    mutating func takeSlice() -> Capture {
        process(events.drain(), probes: probeRing?.take() ?? [])
        var slice = capture
        slice.timeline = timeline.points.filter { $0.t > sliceStart }
        if configuration.trackMemory { slice.memoryTimeline = memoryTimeline.points.filter { $0.t > sliceStart } }
        slice.endNanoseconds = Syscalls.monotonicNanoseconds()
        slice.modules = spaces.modules
        slice.counters = counters.read()
        Self.copy(perfMaps, into: &slice)
        if let settings = configuration.heapProbes, let matcher {
            // Allocations so far (not only this slice's): outstanding bytes are a state, not a count.
            slice.heap = heap.finish(now: slice.endNanoseconds, start: sessionStart, sampleBytes: 0)
            slice.heap?.probes = AllocatorProbeSummary(matcher: matcher, settings: settings, counts: programs?.counts ?? AllocatorProbeCounts(),
                                                       armedAtSeconds: nil, disarmedAtSeconds: nil)
        }
        sliceStart = slice.timeline.last?.t ?? sliceStart
        capture.stacks = [:]
        capture.samples = 0
        capture.lostRecords = 0
        capture.lostSamples = 0
        capture.throttles = 0
        capture.unwindOutcomes = [:]
        capture.unwindNanoseconds = 0
        capture.startNanoseconds = slice.endNanoseconds
        return slice
    }

    consuming func finish() -> Capture {
        events.disable()
        if let probeEvents {
            probesClosedAt = Syscalls.monotonicNanoseconds()
            programs?.detach(probeEvents.events.indices)
        }
        process(events.drain(), probes: probeRing?.take() ?? [])
        receiveHeapRecords(last: true)
        if rejectedHeapRecords > 0 {
            capture.notes.append("\(rejectedHeapRecords) heap-probe records ignored: they named a process outside the session")
        }
        if let channel = configuration.heapChannel, let ring = heapRing?.losses {
            capture.heap = heap.finish(now: Syscalls.monotonicNanoseconds(), start: sessionStart,
                                       sampleBytes: channel.sampleBytes)
            capture.heap?.droppedSamples = ring.allocations.addingSaturated(ring.untracked)
            capture.heap?.droppedFrees = ring.frees
            capture.heap?.probeMemory = HeapProbeMemory(privateBytes: HeapRing.probePrivateBytes,
                                                        sharedRingBytes: UInt64(HeapRing.headerBytes) + HeapRing.capacity)
            if ring.frees > 0 {
                capture.notes.append("the heap probe's ring was full for \(ring.frees) frees of sampled allocations: their stacks' outstanding bytes are overstated")
            }
            if ring.corrupted {
                capture.notes.append("the heap probe's ring held records no probe writes (the target wrote into it): \(ring.skippedBytes) bytes ignored")
            } else if ring.skippedBytes > 0 {
                capture.notes.append("\(ring.skippedBytes) bytes of heap-probe records were never completed (a writer stopped mid-record) and were skipped")
            }
        }
        if unknownProbeHits > 0 {
            capture.notes.append("\(unknownProbeHits) allocator probe hits at no probed address were ignored")
        }
        if let matcher, let settings = configuration.heapProbes {
            let counts = programs?.counts ?? AllocatorProbeCounts()
            if counts.lostEntries > 0 {
                capture.notes.append("the allocator probes' ring had no room for \(counts.lostEntries) calls while the agent fell behind: frees among them are missing, so outstanding bytes are overstated (--heap-frequency lower, or a shorter --heap-window)")
            }
            let seconds = { (time: UInt64?) in time.map { Double($0 - self.sessionStart) / 1e9 } }
            // Rates end where the records do: when the probes began to be taken out.
            let end = probesClosedAt ?? Syscalls.monotonicNanoseconds()
            capture.heap = heap.finish(now: end, start: sessionStart, sampleBytes: 0)
            capture.heap?.tracedSeconds = armedAt.map { Double(min(disarmedAt ?? end, end) &- $0) / 1e9 }
            capture.heap?.probes = AllocatorProbeSummary(matcher: matcher, settings: settings, counts: counts,
                                                         armedAtSeconds: seconds(armedAt), disarmedAtSeconds: seconds(disarmedAt))
        }
        followPerfMaps()
        Self.copy(perfMaps, into: &capture)
        capture.counters = counters.read()
        if case .launched = configuration.scope, let last = timeline.points.last, let point = telemetry.readFinal(after: last) {
            timeline.modify { $0.append(point) } // kept whatever the thinning stride
        }
        capture.timeline = timeline.points.filter { $0.t > sliceStart }
        if configuration.trackMemory { capture.memoryTimeline = memoryTimeline.points.filter { $0.t > sliceStart } }
        capture.endNanoseconds = Syscalls.monotonicNanoseconds()
        capture.modules = spaces.modules
        capture.modulesWithoutUnwindInfo = unwinder.modulesWithoutUnwindInfo.sorted()
        return capture
    }

    /// Reads what the heap probe wrote: each sampled allocation is unwound
    /// like a CPU sample (less the probe's own frames); frees close them.
    /// The ring is written from inside the target: a record must name a
    /// process of the session (one its perf events follow), so that no pid
    /// in it makes the agent read another process's mappings.
    private mutating func receiveHeapRecords(last: Bool = false) {
        guard heapRing != nil else { return }
        let now = Syscalls.monotonicNanoseconds()
        let records = last ? heapRing!.takeRemaining(now: now) : heapRing!.take(now: now)
        // A child's fork record may still be in a ring.
        if records.contains(where: { !spaces.knows($0.pid) }) { process(events.drain()) }
        for record in records {
            guard spaces.knows(record.pid) else {
                rejectedHeapRecords += 1
                continue
            }
            apply(record)
            readTelemetryIfDue()
        }
    }

    private mutating func apply(_ record: HeapRecord) {
        switch record {
        case .allocation(let allocation):
            recordAllocation(allocation)
        case .free(let pid, let address, let time):
            heap.freed(pid: pid, address: address, time: time)
        }
    }

    /// An allocator probe's record: entries free blocks and remember sizes,
    /// sampled returns are allocations. A record must name a process of the
    /// session, as the heap probe's must.
    private mutating func applyProbe(_ record: ProbeRecord) {
        guard let probeEvents, Int(record.tag) < probeEvents.events.count, spaces.knows(record.sample.pid) else {
            rejectedHeapRecords += 1
            return
        }
        let event = probeEvents.events[Int(record.tag)]
        // Probes are taken out one by one, each after a grace period: what
        // the others record meanwhile is past the end (an entry without its
        // return, a return without its entry).
        if let closed = probesClosedAt, record.sample.time > closed { return }
        if event.allocating, let disarmedAt, record.sample.time > disarmedAt { return }
        let sample = record.sample
        let result: AllocatorCallMatcher.Event?
        switch event.kind {
        case .entry:
            // One event holds many functions' probes: the instruction pointer says whose.
            guard let site = probeEvents.plan.site(probedAt: sample.userRegisters[8], among: event.sites) else {
                unknownProbeHits += 1
                return
            }
            result = matcher?.entered(site: site, sample)
        case .return:
            result = matcher?.returned(sample)
            // A block not in RAX (an out-parameter's) is remembered here, so
            // that its free is recorded; then the programs may filter again.
            if sample.userRegisters[0] == 0 {
                if case .allocation(let allocation) = result { programs?.remember(allocation.address) }
                returnsWithoutBlock += 1
                programs?.handledReturnsWithoutBlock(returnsWithoutBlock)
            }
        }
        switch result {
        case .allocation(let allocation): recordAllocation(allocation)
        case .free(let pid, let address, let time): heap.freed(pid: pid, address: address, time: time)
        case nil: break
        }
    }

    /// Unwinds a sampled allocation like a CPU sample, less the heap probe's own frames.
    private mutating func recordAllocation(_ allocation: HeapAllocation) {
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
        heap.allocated(allocation, frames: Array(callers))
    }

    /// Keeps sampled allocation stacks near `frequency` a second whatever the
    /// call rate: each return is recorded with the probability budget / calls
    /// of the last tick (`AllocatorProbePrograms`); a sample's weight does
    /// not depend on it (`AllocatorCallMatcher`). None is recorded until the
    /// first tick after arming, once the rate is known.
    private mutating func adaptReturnPeriod() {
        guard let settings = configuration.heapProbes, let probeEvents, let matcher, let armedAt, disarmedAt == nil else { return }
        let now = Syscalls.monotonicNanoseconds()
        let since = max(lastTickAt, armedAt)
        // The rate of a moment is no rate: recording returns before a tick's
        // calls are counted recorded every return of the first tick (64 KiB
        // each), more than the ring holds.
        guard now - since >= configuration.telemetryIntervalNanoseconds / 2 else { return }
        let calls = probeEvents.plan.sites.indices.filter { probeEvents.plan.sites[$0].function.role != .free }
            .reduce(0) { $0 + matcher.calls[$1] }
        defer {
            callsAtLastTick = calls
            lastTickAt = now
        }
        let budget = Double(settings.frequency) * Double(now - since) / 1e9
        let ratio = Double(calls - callsAtLastTick) / budget
        do {
            try programs?.setProbability(ratio <= 1 ? 1 : 1 / ratio)
        } catch {
            note("cannot set the share of allocator returns sampled (\(error)): it stays at the last one set")
        }
    }

    /// Closes the heap window once it has passed; with arming on growth,
    /// opens it when the last 10 s of memory grew steadily by 1 MiB or more.
    private mutating func updateArming() {
        guard let settings = configuration.heapProbes, let probeEvents, disarmedAt == nil else { return }
        let now = Syscalls.monotonicNanoseconds()
        if let armedAt {
            guard let window = settings.window, Double(now - armedAt) / 1e9 >= window else { return }
            // Frees stay probed: blocks allocated in the window are still released.
            disarmedAt = now
            programs?.detach(probeEvents.events.indices.filter { probeEvents.events[$0].allocating })
            process(events.drain(), probes: probeRing?.take() ?? [])
        } else if settings.armOnGrowth {
            let points = memoryTimeline.points
            guard let last = points.last, last.t >= 10 else { return }
            let recent = points.filter { $0.t >= last.t - 10 }
            guard let fit = LinearFit(x: recent.map(\.t), y: recent.map { Double($0.anonymousBytes) }),
                  fit.slope >= MemoryGrowth.minimumRate, fit.rSquared >= 0.8,
                  fit.slope * (last.t - recent[0].t) >= Double(MemoryGrowth.minimumGrowth) else { return }
            do {
                try programs?.attach(probeEvents.events.indices, pid: configuration.scope.pid)
                armedAt = now
            } catch {
                note("cannot arm the allocator probes: \(error)")
            }
        }
    }

    /// Reads what each process with JIT code added to its perf map.
    private mutating func followPerfMaps() {
        for pid in spaces.jitProcesses { perfMaps.poll(pid) }
    }

    /// The perf maps so far, and why any was not read, into `capture`.
    private static func copy(_ perfMaps: PerfMapFollower, into capture: inout Capture) {
        capture.perfMaps = perfMaps.maps
        for (_, note) in perfMaps.notes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where !capture.notes.contains(note) {
            capture.notes.append(note)
        }
    }

    private mutating func loadRunningProcess(_ pid: ProcessID) {
        spaces.load(procMaps: MemoryMapping.read(of: pid), for: pid)
        if let comm = try? Syscalls.readFile("/proc/\(pid)/comm") {
            capture.processNames[pid] = String(decoding: comm, as: UTF8.self).trimmingNewline
        }
        for task in Syscalls.listDirectory("/proc/\(pid)/task") {
            guard let tid = Int32(task), let comm = try? Syscalls.readFile("/proc/\(pid)/task/\(task)/comm") else { continue }
            capture.threadNames[ThreadID(tid)] = String(decoding: comm, as: UTF8.self).trimmingNewline
        }
    }

    /// Applies perf records and the allocator probes' records (`probes`,
    /// in their order) merged by time: mappings change before later samples.
    private mutating func process(_ chunks: [[UInt8]], probes: [[UInt8]] = []) {
        guard !chunks.isEmpty || !pendingRecords.isEmpty || !probes.isEmpty else { return }
        // Rings are per CPU: merged by time, ties in arrival order.
        let perf = (pendingRecords + chunks.flatMap(parser.parse)).enumerated()
            .sorted { ($0.element.time ?? 0, $0.offset) < ($1.element.time ?? 0, $1.offset) }.map(\.element)
        pendingRecords = []
        var probeRecords = probes.compactMap(ProbeRecord.parse)[...]

        for record in perf {
            while let next = probeRecords.first, next.sample.time < record.time ?? 0 {
                applyProbe(probeRecords.removeFirst())
                readTelemetryIfDue()
            }
            apply(record)
            readTelemetryIfDue()
        }
        for record in probeRecords {
            applyProbe(record)
            readTelemetryIfDue()
        }
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
