/// The work of the sampling thread: owns the perf events and drains their
/// rings, takes the records of the rings its consumers own, merges all by
/// time and hands each to every consumer, and has the target's telemetry
/// read on a fixed interval (a tick for the consumers after each reading).
/// It moves records; the consumers own what they make of them.
struct SamplingLoop: ~Copyable {
    private var events: PerfEventGroup
    private var counters: CounterGroup
    private let configuration: SamplerConfiguration
    private var parser: PerfRecordParser
    private let telemetry: TelemetryReader
    /// In registration order: each record goes to all, in this order.
    private let consumers: [any RecordConsumer]
    private let notes: NoteBook
    /// Rings the kernel hung up (their task exited, or may no longer be
    /// sampled): drained, no longer polled.
    private var hungUp: Set<Int32> = []
    private var hungUpAt: UInt64?
    /// A reading was taken since the end of the last step.
    private var telemetryRead = false
    private let wakeFD: Int32
    /// Records read while attaching, applied with the first round.
    private var pendingRecords: [PerfRecord] = []
    /// Sampling per CPU: the processes whose records are kept.
    private var selection: ProcessSelection?
    /// Some consumer owns a ring of its own, which wakes no one.
    private let drainedByClock: Bool
    private var sliceStart: UInt64

    /// `consumers` are made on this thread, after the telemetry reader and
    /// before the events open, with the session's notes and start time.
    init(_ configuration: SamplerConfiguration, wakeFD: Int32,
         consumers makeConsumers: (NoteBook, UInt64) throws(SamplingError) -> [any RecordConsumer]) throws(SamplingError) {
        self.configuration = configuration
        self.wakeFD = wakeFD
        let start = Syscalls.monotonicNanoseconds()
        let notes = NoteBook()
        let telemetry = TelemetryReader(configuration, start: start)
        let consumers = try makeConsumers(notes, start)
        let ringBytes = configuration.ringPages * Syscalls.pageSize()
        let specs = [EventSpec.sampling(configuration.event, frequency: configuration.frequency,
                                        includeKernel: configuration.includeKernel, layout: configuration.layout,
                                        scope: configuration.scope, perCPU: configuration.perCPU, ringBytes: ringBytes)]
        events = try Self.openEvents(configuration, specs: specs)
        parser = PerfRecordParser(layout: configuration.layout)
        Self.describeEvents(events, to: &parser)
        counters = CounterGroup(scope: configuration.scope)
        // Counters count per task: per CPU they would count every process.
        if configuration.perCPU {
            counters.notCounted = "not counted (sampling per CPU)"
        } else {
            counters.add(thread: ThreadID(configuration.scope.pid.rawValue))
        }
        self.notes = notes
        self.telemetry = telemetry
        self.consumers = [telemetry] + consumers
        drainedByClock = consumers.contains { $0.ownsRing }
        sliceStart = start
    }

    /// What the parser must know of the events to tell their samples apart.
    private static func describeEvents(_ events: borrowing PerfEventGroup, to parser: inout PerfRecordParser) {
        parser.layouts = events.layoutsByID
    }

    private static func openEvents(_ configuration: SamplerConfiguration, specs: [EventSpec]) throws(SamplingError) -> PerfEventGroup {
        let cpus = OnlineCPUs.read()
        guard configuration.perCPU else {
            return try PerfEventGroup(.thread(ThreadID(configuration.scope.pid.rawValue)), specs: specs, cpus: cpus,
                                      dataPages: configuration.ringPages)
        }
        guard let cgroup = configuration.cgroup else {
            return try PerfEventGroup(.every, specs: specs, cpus: cpus, dataPages: configuration.ringPages)
        }
        // The kernel holds the cgroup once the events are open.
        let directory: FileDescriptor
        do {
            directory = FileDescriptor(try Syscalls.openDirectory(cgroup.path))
        } catch {
            throw .system("opening cgroup \(cgroup)", error)
        }
        return try PerfEventGroup(.cgroup(directory.raw), specs: specs, cpus: cpus, dataPages: configuration.ringPages)
    }

    /// Completes setup for an attached process: its other threads, then
    /// what the consumers read of it (mappings, names, probes). (Separate
    /// from init: Swift cannot throw out of an init that has already
    /// initialized a noncopyable member.)
    mutating func attach() throws(SamplingError) {
        guard case .attached(let pid) = configuration.scope else { return }
        guard configuration.perCPU else {
            try followExistingThreads(of: pid)
            for consumer in consumers { try consumer.attached(to: pid) }
            return
        }
        var others = configuration.tree ? ProcessSelection.descendants(of: pid) : []
        if let name = configuration.match { others.formUnion(ProcessFinder.all(named: name)) }
        if configuration.wholeCgroup, let cgroup = configuration.cgroup { others.formUnion(cgroup.processes) }
        others.remove(pid)
        selection = ProcessSelection(others.union([pid]), tree: configuration.tree, name: configuration.match,
                                     everyProcess: configuration.wholeCgroup)
        for consumer in consumers { try consumer.attached(to: pid) }
        for child in others.sorted() {
            for consumer in consumers { consumer.joined(child) }
        }
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
            Self.describeEvents(events, to: &parser)
            let records = events.drain().flatMap(parser.parse)
            for case .fork(_, _, let tid, _, _) in records { inherited.insert(tid) }
            pendingRecords += records
        }
    }

    /// One poll-and-drain round. Returns false once an attached target is gone.
    mutating func step() -> Bool {
        let now = Syscalls.monotonicNanoseconds()
        let wait = telemetry.nextReading > now ? Int32((telemetry.nextReading - now) / 1_000_000) : 0
        let rings = events.ringFDs.filter { !hungUp.contains($0) }
        let hangUps = Syscalls.pollReadable(rings + [wakeFD],
                                            timeoutMilliseconds: max(1, drainedByClock ? min(wait, 10) : wait))
        if !hangUps.isEmpty { ringsHungUp(hangUps) }
        dispatch()
        if telemetry.readIfDue() { telemetryRead = true }
        if telemetryRead {
            telemetryRead = false
            for consumer in consumers { consumer.tick(telemetry) }
            checkCutOff()
        }
        guard case .attached = configuration.scope else { return true }
        return !telemetry.targetGone
    }

    /// Hands every record drained so far to the consumers, in time order.
    /// The consumers' own rings are taken first: every mapping and fork a
    /// record of theirs follows is then in the perf rings drained after.
    /// Perf rings are per CPU: merged by time, ties in arrival order; an
    /// owned ring's records keep their order, each applied once no perf
    /// record before it is left.
    private mutating func dispatch(final: Bool = false) {
        var owned = consumers.indices.compactMap { index -> (consumer: Int, times: [UInt64], next: Int)? in
            let times = consumers[index].takeOwnRecords(final: final)
            return times.isEmpty ? nil : (index, times, 0)
        }
        let perf = (pendingRecords + events.drain().flatMap(parser.parse)).enumerated()
            .sorted { ($0.element.time ?? 0, $0.offset) < ($1.element.time ?? 0, $1.offset) }.map(\.element)
        pendingRecords = []
        for record in perf where selection?.admits(record) ?? true {
            for newcomer in selection?.takeNewcomers() ?? [] {
                for consumer in consumers { consumer.joined(newcomer) }
            }
            applyOwned(&owned, before: record.time ?? 0)
            for consumer in consumers { consumer.consume(record) }
            if telemetry.readIfDue() { telemetryRead = true }
        }
        applyOwned(&owned, before: .max)
    }

    /// Applies, earliest first, the owned records older than `time` (all, at `.max`).
    private mutating func applyOwned(_ owned: inout [(consumer: Int, times: [UInt64], next: Int)], before time: UInt64) {
        while true {
            var earliest: Int?
            for source in owned.indices where owned[source].next < owned[source].times.count {
                let head = owned[source].times[owned[source].next]
                guard head < time || time == .max else { continue }
                if earliest.map({ head < owned[$0].times[owned[$0].next] }) ?? true { earliest = source }
            }
            guard let source = earliest else { return }
            owned[source].next += 1
            consumers[owned[source].consumer].consumeOwnRecord()
            if telemetry.readIfDue() { telemetryRead = true }
        }
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
        notes.note("the kernel stopped sampling pid \(pid) (\(SymbolName.sanitized(stat.command))) while it still runs: it executed a set-user-ID or file-capability program, which only root or CAP_PERFMON may profile")
    }

    /// Notes made since the last call.
    mutating func takeNotes() -> [String] {
        notes.takeNew()
    }

    /// What was sampled since the previous slice (stacks, counts, the
    /// timeline points read meanwhile, and the modules so far), leaving the
    /// loop running: the sidecar's unit of time, which keeps its memory
    /// bounded however long it runs.
    mutating func takeSlice() -> Capture {
        dispatch()
        var slice = Capture()
        slice.startNanoseconds = sliceStart
        for consumer in consumers { consumer.slice(into: &slice) }
        slice.otherProcessSamples = selection?.takeDiscarded() ?? 0
        slice.counters = counters.read()
        slice.notes = notes.all + slice.notes.filter { !notes.all.contains($0) }
        slice.endNanoseconds = Syscalls.monotonicNanoseconds()
        sliceStart = slice.endNanoseconds
        return slice
    }

    consuming func finish() -> Capture {
        events.disable()
        for consumer in consumers { consumer.stop() }
        dispatch(final: true)
        var capture = Capture()
        capture.startNanoseconds = sliceStart
        for consumer in consumers { consumer.finish(into: &capture) }
        capture.otherProcessSamples = selection?.takeDiscarded() ?? 0
        capture.counters = counters.read()
        capture.notes = notes.all + capture.notes.filter { !notes.all.contains($0) }
        capture.endNanoseconds = Syscalls.monotonicNanoseconds()
        return capture
    }
}
