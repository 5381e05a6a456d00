/// `attach --heap`: owns the allocator probes' BPF programs and the ring
/// they write into, arms them (at once, or once memory grows) and disarms
/// them (`--heap-window`, the end), keeps the share of returns sampled near
/// the stack budget, and turns the records into heap events: entries count
/// calls and free blocks, sampled returns are allocations walked like CPU
/// samples. A record must name a process of the session.
final class AllocatorProbeController: RecordConsumer {
    /// The probe ring's size: a second of a busy allocator's entries (~100
    /// bytes a call) or 250 stack copies of 64 KiB.
    static let ringBytes = 16 << 20

    private let settings: HeapProbeSettings
    private var programs: AllocatorProbePrograms
    private var ring: BPFRecordRing
    private var matcher: AllocatorCallMatcher
    private var tracker: HeapTracker
    private let walker: StackWalker
    private let notes: NoteBook
    private let pid: ProcessID
    private let start: UInt64
    private let tickInterval: UInt64
    private var armedAt: UInt64?
    private var disarmedAt: UInt64?
    /// When the probes began to be taken out at the end (CLOCK_MONOTONIC ns).
    private var closedAt: UInt64?
    /// The allocating calls counted when the share of returns sampled was last set, and when.
    private var callsAtLastTick = 0
    private var lastTickAt: UInt64 = 0
    /// Chosen returns without a block in RAX handled so far.
    private var returnsWithoutBlock: UInt64 = 0
    /// Entry records at no probed address (cannot happen unless the
    /// library's mapping changed under the probes): counted, not guessed.
    private var unknownProbeHits = 0
    /// Records naming a process outside the session, or no probe.
    private var rejected = 0
    /// Taken from the ring, not yet applied.
    private var taken: [ProbeRecord] = []
    private var applied = 0

    init(_ settings: HeapProbeSettings, pid: ProcessID, stackSize: UInt32, tickInterval: UInt64,
         walker: StackWalker, notes: NoteBook, start: UInt64) throws(SamplingError) {
        do {
            let ring = try BPFRecordRing(bytes: Self.ringBytes)
            programs = try AllocatorProbePrograms(settings.events.probes, ring: ring, stackSize: stackSize)
            self.ring = consume ring
        } catch let error as Errno {
            throw .stage(HeapProbeError.bpf("creating the allocator probes' ring buffer", error.description))
        } catch let error as HeapProbeError {
            throw .stage(error)
        } catch {
            throw .stage(HeapProbeError.bpf("setting up the allocator probes", "\(error)"))
        }
        self.settings = settings
        self.pid = pid
        self.tickInterval = tickInterval
        self.walker = walker
        self.notes = notes
        self.start = start
        matcher = AllocatorCallMatcher(plan: settings.plan)
        tracker = HeapTracker(start: start)
    }

    /// The events are closed first: then their probe definitions can go.
    deinit {
        programs.detach(settings.events.events.indices)
        settings.uprobes.removeAll()
    }

    /// Armed from the moment the probes are in: the first rate is of calls
    /// counted since then (armed at the session's start, a first tick after
    /// loading the programs took 50 ms counted 31 calls, chose every return
    /// and filled the ring).
    func attached(to pid: ProcessID) throws(SamplingError) {
        guard !settings.armOnGrowth else { return }
        try programs.attach(settings.events.events.indices, pid: pid)
        armedAt = Syscalls.monotonicNanoseconds()
    }

    var ownsRing: Bool { true }

    func takeOwnRecords(final: Bool) -> [UInt64] {
        taken = ring.take().compactMap(ProbeRecord.parse)
        applied = 0
        return taken.map(\.sample.time)
    }

    func consumeOwnRecord() {
        guard applied < taken.count else { return }
        let record = taken[applied]
        applied += 1
        let events = settings.events.events
        guard Int(record.tag) < events.count, walker.knows(record.sample.pid) else {
            rejected += 1
            return
        }
        let event = events[Int(record.tag)]
        // Probes are taken out one by one, each after a grace period: what
        // the others record meanwhile is past the end (an entry without its
        // return, a return without its entry).
        if let closedAt, record.sample.time > closedAt { return }
        if event.allocating, let disarmedAt, record.sample.time > disarmedAt { return }
        let sample = record.sample
        let result: AllocatorCallMatcher.Event?
        switch event.kind {
        case .entry:
            // One event holds many functions' probes: the instruction pointer says whose.
            guard let site = settings.plan.site(probedAt: sample.userRegisters[8], among: event.sites) else {
                unknownProbeHits += 1
                return
            }
            result = matcher.entered(site: site, sample)
        case .return:
            result = matcher.returned(sample)
            // A block not in RAX (an out-parameter's) is remembered here, so
            // that its free is recorded; then the programs may filter again.
            if sample.userRegisters[0] == 0 {
                if case .allocation(let allocation) = result { programs.remember(allocation.address) }
                returnsWithoutBlock += 1
                programs.handledReturnsWithoutBlock(returnsWithoutBlock)
            }
        }
        switch result {
        case .allocation(let allocation): tracker.allocated(allocation, walkedBy: walker)
        case .free(let pid, let address, let time): tracker.freed(pid: pid, address: address, time: time)
        case nil: break
        }
    }

    func tick(_ telemetry: TelemetryReader) {
        if armedAt != nil && disarmedAt == nil {
            tracker.tick(Double(Syscalls.monotonicNanoseconds() - start) / 1e9)
        }
        updateArming(telemetry.memoryTimeline.points)
        adaptSampledShare()
    }

    /// Closes the heap window once it has passed; with arming on growth,
    /// opens it when the last 10 s of memory grew steadily by 1 MiB or more.
    private func updateArming(_ points: [MemoryPoint]) {
        guard disarmedAt == nil else { return }
        let now = Syscalls.monotonicNanoseconds()
        if let armedAt {
            guard let window = settings.window, Double(now - armedAt) / 1e9 >= window else { return }
            // Frees stay probed: blocks allocated in the window are still
            // released. Allocating records from after now are ignored.
            disarmedAt = now
            programs.detach(settings.events.events.indices.filter { settings.events.events[$0].allocating })
        } else if settings.armOnGrowth {
            guard let last = points.last, last.t >= 10 else { return }
            let recent = points.filter { $0.t >= last.t - 10 }
            guard let fit = LinearFit(x: recent.map(\.t), y: recent.map { Double($0.anonymousBytes) }),
                  fit.slope >= GrowthThreshold.minimumRate, fit.rSquared >= 0.8,
                  fit.slope * (last.t - recent[0].t) >= Double(GrowthThreshold.minimumGrowth) else { return }
            do {
                try programs.attach(settings.events.events.indices, pid: pid)
                armedAt = now
            } catch {
                notes.note("cannot arm the allocator probes: \(error)")
            }
        }
    }

    /// Keeps sampled allocation stacks near `frequency` a second whatever the
    /// call rate: each return is recorded with the probability budget / calls
    /// of the last tick (`AllocatorProbePrograms`); a sample's weight does
    /// not depend on it (`AllocatorCallMatcher`). None is recorded until the
    /// first tick after arming, once the rate is known.
    private func adaptSampledShare() {
        guard let armedAt, disarmedAt == nil else { return }
        let now = Syscalls.monotonicNanoseconds()
        let since = max(lastTickAt, armedAt)
        // The rate of a moment is no rate: recording returns before a tick's
        // calls are counted recorded every return of the first tick (64 KiB
        // each), more than the ring holds.
        guard now - since >= tickInterval / 2 else { return }
        let sites = settings.plan.sites
        let calls = sites.indices.filter { sites[$0].function.role != .free }.reduce(0) { $0 + matcher.calls[$1] }
        defer {
            callsAtLastTick = calls
            lastTickAt = now
        }
        let budget = Double(settings.frequency) * Double(now - since) / 1e9
        let ratio = Double(calls - callsAtLastTick) / budget
        do {
            try programs.setProbability(ratio <= 1 ? 1 : 1 / ratio)
        } catch {
            notes.note("cannot set the share of allocator returns sampled (\(error)): it stays at the last one set")
        }
    }

    /// Returns stop being chosen at once: while the probes are taken out
    /// one by one (a grace period each) the agent is not draining, and
    /// their 64 KiB stack copies would fill the ring with records past the
    /// end and count as lost.
    func stop() {
        closedAt = Syscalls.monotonicNanoseconds()
        try? programs.setProbability(0)
        programs.detach(settings.events.events.indices)
    }

    /// Allocations so far (not only this slice's): outstanding bytes are a state, not a count.
    func slice(into capture: inout Capture) {
        capture.heap = tracker.finish(now: Syscalls.monotonicNanoseconds(), start: start, sampleBytes: 0)
        capture.heap?.probes = AllocatorProbeSummary(matcher: matcher, settings: settings, counts: programs.counts,
                                                     armedAtSeconds: nil, disarmedAtSeconds: nil)
    }

    func finish(into capture: inout Capture) {
        if rejected > 0 {
            notes.note("\(rejected) heap-probe records ignored: they named a process outside the session")
        }
        if unknownProbeHits > 0 {
            notes.note("\(unknownProbeHits) allocator probe hits at no probed address were ignored")
        }
        let counts = programs.counts
        if counts.lostEntries > 0 {
            notes.note("the allocator probes' ring had no room for \(counts.lostEntries) calls while the agent fell behind: frees among them are missing, so outstanding bytes are overstated (--heap-frequency lower, or a shorter --heap-window)")
        }
        let seconds = { (time: UInt64?) in time.map { Double($0 - self.start) / 1e9 } }
        // Rates end where the records do: when the probes began to be taken out.
        let end = closedAt ?? Syscalls.monotonicNanoseconds()
        capture.heap = tracker.finish(now: end, start: start, sampleBytes: 0)
        capture.heap?.tracedSeconds = armedAt.map { Double(min(disarmedAt ?? end, end) &- $0) / 1e9 }
        capture.heap?.probes = AllocatorProbeSummary(matcher: matcher, settings: settings, counts: counts,
                                                     armedAtSeconds: seconds(armedAt), disarmedAtSeconds: seconds(disarmedAt))
    }
}
