import CPerfProbe

/// The BPF programs behind `attach --heap`'s uprobes, one per event of
/// `AllocatorProbeEvents`: allocating entries record every call; returns
/// record the calls chosen independently at random, with the probability
/// the agent sets, with registers and a stack copy, and remember the block
/// as sampled; frees record only the blocks sampled (two thirds of a Python
/// server's probe records were frees of blocks never sampled, which change
/// nothing). Records go to a `BPFRecordRing`.
///
/// A program is set on its tracepoint through an event of its own on the
/// target's first thread: not inherited, never enabled. That event puts
/// the breakpoints into the target's address space (and only its), and the
/// kernel runs the tracepoint's program at each hit in any of its threads,
/// present or future; the program returns 0, so no perf event records the
/// hit. Nothing follows threads: inherited tracepoint events made each
/// thread start walk the kernel's list of every ftrace event once per event
/// and CPU (a threaded Python server served half its requests), and each
/// inherited copy of the event holding a program took the program off the
/// tracepoint at its thread's exit. Independent draws cannot lock onto a
/// program's cycle of allocations the way a one-in-N count does.
///
/// Owns the programs', maps' and events' fds.
struct AllocatorProbePrograms: ~Copyable {
    struct Probe: Sendable {
        enum Role: Sendable {
            case entry
            /// Frees the block in `pointer` and allocates: recorded always.
            case reallocEntry(pointer: AllocatorDefinition.Register)
            /// Frees the block in `pointer`: recorded when it was sampled.
            case freeEntry(pointer: AllocatorDefinition.Register)
            case `return`
        }

        var tracepoint: UInt64
        var role: Role

        var isReturn: Bool {
            if case .return = role { return true }
            return false
        }
    }

    /// Sampled blocks remembered at most; past it every free is recorded.
    static let sampledBlocks: UInt32 = 1 << 20

    private let probes: [Probe]
    private let programs: [Int32]
    private let counters: Int32
    private let threshold: Int32
    private let sampled: Int32
    /// Per probe, its own event while attached (-1: not).
    private var anchors: [Int32]
    /// The maps, programs and events above.
    private var owned: FileDescriptors

    /// Loads a program per probe writing into `ring`, returns copying up to
    /// `stackSize` bytes of stack. The programs run nowhere until `attach`.
    init(_ probes: [Probe], ring: borrowing BPFRecordRing, stackSize: UInt32) throws(HeapProbeError) {
        let namespace = Syscalls.fileIdentity("/proc/self/ns/pid") ?? (0, 0)
        var owned = FileDescriptors()
        let counters: Int32, threshold: Int32, sampled: Int32
        do throws(Errno) {
            counters = owned.adopt(try Syscalls.bpfArrayCreate(entries: UInt32(CPERFPROBE_PROBE_COUNTERS)))
            threshold = owned.adopt(try Syscalls.bpfArrayCreate(entries: 1))
            sampled = owned.adopt(try Syscalls.bpfHashCreate(entries: Self.sampledBlocks))
        } catch {
            throw .bpf("creating the probes' maps", error.description)
        }
        var programs: [Int32] = []
        for (index, probe) in probes.enumerated() {
            var spec = CPerfProbe_ProbeProgramSpec()
            switch probe.role {
            case .entry:
                spec.kind = CPERFPROBE_PROBE_ENTRY
            case .reallocEntry(let pointer):
                spec.kind = CPERFPROBE_PROBE_REALLOC_ENTRY
                spec.pointer_register = UInt32(pointer.perfIndex)
            case .freeEntry(let pointer):
                spec.kind = CPERFPROBE_PROBE_FREE_ENTRY
                spec.pointer_register = UInt32(pointer.perfIndex)
            case .return:
                spec.kind = CPERFPROBE_PROBE_RETURN
            }
            spec.tag = UInt32(index)
            spec.ring_fd = ring.fd
            spec.counters_fd = counters
            spec.threshold_fd = threshold
            spec.sampled_fd = sampled
            spec.stack_pages = min((stackSize + 4095) / 4096, 16)
            spec.pid_namespace_device = namespace.device
            spec.pid_namespace_inode = namespace.inode
            do {
                programs.append(owned.adopt(try Syscalls.probeProgram(spec)))
            } catch {
                throw .bpf("loading the program of the allocator's \(probe.isReturn ? "returns" : "entries")", error.description)
            }
        }
        self.probes = probes
        self.programs = programs
        self.counters = counters
        self.threshold = threshold
        self.sampled = sampled
        self.owned = owned
        anchors = Array(repeating: -1, count: probes.count)
    }

    /// Puts the probes `chosen` (indices) into process `pid`: from now on
    /// every hit in any of its threads runs their program.
    mutating func attach(_ chosen: some Sequence<Int>, pid: ProcessID) throws(SamplingError) {
        for index in chosen where anchors[index] < 0 {
            var config = CPerfProbe_EventConfig()
            config.type = 2 // PERF_TYPE_TRACEPOINT
            config.config = probes[index].tracepoint
            config.sample_period_or_frequency = 1
            config.disabled = true
            let event: Int32
            do {
                event = owned.adopt(try Syscalls.perfEventOpen(config, pid: pid.rawValue, cpu: -1))
            } catch {
                if error == .noSuchProcess { throw .targetGone(pid) }
                throw .system("opening the allocator's uprobes in pid \(pid)", error)
            }
            do {
                try Syscalls.perfEventSetBPF(event, program: programs[index])
            } catch {
                owned.close(event)
                throw .system("setting the BPF program of the allocator's uprobes", error)
            }
            anchors[index] = event
        }
    }

    /// Takes the probes `chosen` out: their breakpoints leave the target
    /// (a program that merely ignored hits would still cost each call a trap).
    /// Each removal waits for a grace period (~0.1 s) while the probes not
    /// yet removed still record: the caller ignores records from after it began.
    mutating func detach(_ chosen: some Sequence<Int>) {
        for index in chosen where anchors[index] >= 0 {
            owned.close(anchors[index])
            anchors[index] = -1
        }
    }

    /// Each return from now on is recorded with `probability` (0…1).
    func setProbability(_ probability: Double) throws(Errno) {
        let clamped = min(max(probability, 0), 1)
        try Syscalls.bpfArraySet(threshold, key: 0, UInt64(clamped * 4_294_967_296))
    }

    /// Remembers `address` as a sampled block: one an out-parameter
    /// function returned, which the program could not see.
    func remember(_ address: UInt64) {
        try? Syscalls.bpfHashInsert(sampled, key: address)
    }

    /// Says that the agent has handled this many chosen returns without a
    /// block in RAX (remembering those that had one elsewhere): once it has
    /// handled all of them, frees of blocks never sampled are not recorded.
    func handledReturnsWithoutBlock(_ count: UInt64) {
        try? Syscalls.bpfArraySet(counters, key: UInt32(CPERFPROBE_PROBE_RETURNS_HANDLED), count)
    }

    /// What the programs counted: records the ring had no room for
    /// (entries, returns), the freeing functions' calls, and whether every
    /// free is recorded (a sampled call returned no block to remember).
    var counts: AllocatorProbeCounts {
        let map = counters
        let value = { (slot: Int) in Syscalls.bpfArrayGet(map, key: UInt32(slot)) ?? 0 }
        return AllocatorProbeCounts(lostEntries: value(CPERFPROBE_PROBE_ENTRY_LOSSES), lostReturns: value(CPERFPROBE_PROBE_RETURN_LOSSES),
                                    freeCalls: value(CPERFPROBE_PROBE_FREE_HITS), everyFreeRecorded: value(CPERFPROBE_PROBE_UNFILTERED) != 0,
                                    returnsWithoutBlock: value(CPERFPROBE_PROBE_RETURNS_WITHOUT_BLOCK))
    }
}

/// `AllocatorProbePrograms.counts`.
struct AllocatorProbeCounts: Sendable {
    var lostEntries: UInt64 = 0
    var lostReturns: UInt64 = 0
    var freeCalls: UInt64 = 0
    var everyFreeRecorded = false
    var returnsWithoutBlock: UInt64 = 0
}
