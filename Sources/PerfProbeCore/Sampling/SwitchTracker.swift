import CPerfProbe

/// `--off-cpu`'s kernel side: a BPF program on the sched:sched_switch
/// tracepoint (`CPerfProbe_switch_program`) that times every interval a
/// followed thread spends off the CPU and writes it, closed, into a BPF
/// ring; one switch-out in N also writes the thread's stacks (kernel
/// frames, user registers and up to 8 KiB of user stack, copied by the
/// program), N set ten times a second so that at most `stacksPerSecond`
/// are taken. Only the ring's records reach the agent: a switch costs the
/// program's run (two map operations for a followed thread), not a perf
/// sample, and no perf event follows the threads. The program is set
/// through one never-enabled tracepoint event, and returns 1, so other
/// tools' events on the tracepoint see every switch.
///
/// Processes are followed by pid (`follow`), as the agent learns of them,
/// and with `followChildren` those they fork, by a second program on
/// sched:sched_process_fork, from their first instruction. Pids in the
/// programs are the initial namespace's: the agent must be in it. Owns the
/// maps, programs, events and ring; closing the events (in deinit) takes
/// ~70 ms each on a VM, the kernel waiting for the programs' last runs.
struct SwitchTracker: ~Copyable {
    private var owned: FileDescriptors
    private let targets: Int32
    private let open: Int32
    private let settings: Int32
    let ring: BPFRecordRing
    private var lastCount: UInt64 = 0
    private var lastTime: UInt64
    private(set) var keepOneIn: UInt64 = 1

    /// Stack records a second the program writes at most.
    static let stacksPerSecond: UInt64 = 2000
    /// Threads of followed processes off the CPU at once, at most (the open
    /// intervals' map is allocated whole: under 100 bytes an entry).
    static let openIntervals: UInt32 = 1 << 16
    /// 2,000 stack records of 9.4 KiB a second, drained a hundred times a second.
    static let ringBytes = 16 << 20
    /// An open interval in the program's map: start, pid, flags, run time.
    private static let valueSize = 24

    /// `copyUserStack`: registers and stack for DWARF; else the frame-pointer
    /// chain. `followChildren`: processes a followed one forks are followed
    /// from their first instruction (a second program, on sched_process_fork).
    init(copyUserStack: Bool, followChildren: Bool) throws(SamplingError) {
        try Self.checkPrivileges()
        try Self.checkNamespace()
        let format = try Self.tracepoint("sched_switch")
        guard let state = format.fields.fields["prev_state"], state.size == 8,
              let next = format.fields.fields["next_pid"], next.size == 4 else {
            throw .system("sched:sched_switch's format has no prev_state and next_pid fields as this perfprobe knows them", .notSupported)
        }
        let runtime = try Self.runtimeField()
        var owned = FileDescriptors()
        let targets: Int32, open: Int32, settings: Int32
        do throws(Errno) {
            targets = owned.adopt(try Syscalls.bpfHashCreate(entries: 1 << 16))
            open = owned.adopt(try Syscalls.bpfOpenIntervalsCreate(entries: Self.openIntervals))
            settings = owned.adopt(try Syscalls.bpfArrayCreate(entries: UInt32(CPERFPROBE_SWITCH_SETTINGS)))
        } catch {
            throw .system("creating --off-cpu's BPF maps", error)
        }
        let ring = try Self.makeRing()
        var spec = CPerfProbe_SwitchProgramSpec()
        spec.targets_fd = targets
        spec.open_fd = open
        spec.settings_fd = settings
        spec.ring_fd = ring.fd
        spec.prev_state_offset = Int32(state.offset)
        spec.next_pid_offset = Int32(next.offset)
        spec.runtime_offset = runtime
        spec.copy_user_stack = copyUserStack ? 1 : 0
        let program = owned.adopt(try Self.load { () throws(BPFRefusal) in try Syscalls.switchProgram(spec) })
        // The programs' tracepoint events are closed with `owned`, at the end.
        try Self.anchor(program, on: "sched_switch", id: format.id, owned: &owned)
        if followChildren {
            let fork = try Self.tracepoint("sched_process_fork")
            guard let child = fork.fields.fields["child_pid"], child.size == 4 else {
                throw .system("sched:sched_process_fork's format has no child_pid field as this perfprobe knows it", .notSupported)
            }
            let follower = owned.adopt(try Self.load { () throws(BPFRefusal) in
                try Syscalls.forkProgram(targets: targets, childPIDOffset: Int32(child.offset))
            })
            try Self.anchor(follower, on: "sched_process_fork", id: fork.id, owned: &owned)
        }
        self.owned = owned
        self.targets = targets
        self.open = open
        self.settings = settings
        self.ring = ring
        lastTime = Syscalls.monotonicNanoseconds()
    }

    /// Where task_struct keeps the thread's run time (se.sum_exec_runtime),
    /// from the kernel's BTF: the program reads it at each switch-out, to end
    /// an interval whose return the kernel did not trace.
    private static func runtimeField() throws(SamplingError) -> Int32 {
        let path = "/sys/kernel/btf/vmlinux", limit = 64 << 20
        let bytes: [UInt8]
        do throws(UntrustedFileError) {
            // The kernel's file: root's, regular, a few MiB (5.5 on 6.18); read as one.
            let file = try UntrustedFile(path: path, owners: [0])
            guard file.size <= UInt64(limit) else { throw .tooLarge(size: file.size, limit: limit) }
            bytes = try file.read(at: 0, count: Int(file.size))
        } catch {
            let errno = if case .unreadable(let errno) = error { errno } else { Errno.notSupported }
            throw .system("--off-cpu needs the kernel's BTF (\(path): \(error))", errno)
        }
        guard let field = KernelTypes(bytes)?.member(["task_struct", "se", "sum_exec_runtime"]), field.size == 8,
              let offset = Int16(exactly: field.offset) else {
            throw .system("the kernel's BTF (\(path)) has no 8-byte task_struct.se.sum_exec_runtime", .notSupported)
        }
        return Int32(offset)
    }

    private static func makeRing() throws(SamplingError) -> BPFRecordRing {
        do {
            return try BPFRecordRing(bytes: ringBytes)
        } catch {
            throw .system("creating --off-cpu's BPF ring", error)
        }
    }

    /// Loading tracing programs and reading tracefs take CAP_BPF and
    /// CAP_PERFMON (or CAP_SYS_ADMIN): said before anything else fails less clearly.
    private static func checkPrivileges() throws(SamplingError) {
        let status = (try? Syscalls.readFile("/proc/self/status")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst(7).trimmingPrefix(while: { $0 == " " || $0 == "\t" }), radix: 16) else { return }
        let admin = mask & 1 << 21 != 0, perfmon = mask & 1 << 38 != 0, bpf = mask & 1 << 39 != 0
        if admin || (perfmon && bpf) { return }
        throw .system("--off-cpu needs root, or CAP_BPF and CAP_PERFMON: its programs run in the kernel at every context switch", .notPermitted)
    }

    /// The program sees pids as the initial pid namespace numbers them:
    /// the agent's namespace must be that one (its inode is fixed,
    /// PROC_PID_INIT_INO, whichever /proc is mounted).
    private static func checkNamespace() throws(SamplingError) {
        guard let namespace = Syscalls.fileIdentity("/proc/self/ns/pid"), namespace.inode != 0xEFFF_FFFC else { return }
        throw .system("--off-cpu needs perfprobe in the initial pid namespace (the kernel's switch tracepoint names threads by their pids there)", .notSupported)
    }

    private static func load(_ body: () throws(BPFRefusal) -> Int32) throws(SamplingError) -> Int32 {
        do {
            return try body()
        } catch {
            throw .system("loading --off-cpu's BPF programs (\(error.verifier.isEmpty ? "refused" : SymbolName.sanitized(error.verifier)))", error.errno)
        }
    }

    /// Sets `program` on the tracepoint through an event of its own: never
    /// enabled, so it records nothing, on one CPU, as the program runs on all.
    private static func anchor(_ program: Int32, on name: String, id: UInt64, owned: inout FileDescriptors) throws(SamplingError) {
        var config = CPerfProbe_EventConfig()
        config.type = 2 // PERF_TYPE_TRACEPOINT
        config.config = id
        config.disabled = true
        do throws(Errno) {
            let anchor = owned.adopt(try Syscalls.perfEventOpen(config, pid: -1, cpu: OnlineCPUs.read().first ?? 0))
            try Syscalls.perfEventSetBPF(anchor, program: program)
        } catch {
            throw .system("setting --off-cpu's program on sched:\(name)", error)
        }
    }

    /// A sched tracepoint's id and format, from tracefs (mounted if the
    /// system has not).
    private static func tracepoint(_ name: String) throws(SamplingError) -> (id: UInt64, fields: TracepointFormat) {
        let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        let event = "/events/sched/\(name)/"
        var directory = candidates.first { (try? Syscalls.readFile($0 + event + "id")) != nil }
        if directory == nil, Syscalls.mountTracefs(at: candidates[0]) { directory = candidates[0] }
        guard let directory else { throw .system("--off-cpu needs tracefs (mounting it at \(candidates[0]) failed)", .notSupported) }
        do throws(Errno) {
            let idText = String(decoding: try Syscalls.readFile(directory + event + "id").prefix(32), as: UTF8.self)
            let formatText = String(decoding: try Syscalls.readFile(directory + event + "format").prefix(65536), as: UTF8.self)
            guard let id = UInt64(idText.filter(\.isNumber)) else { throw Errno.invalidArgument }
            return (id, TracepointFormat.parse(Substring(formatText)))
        } catch {
            throw .system("reading sched:\(name) in \(directory)", error)
        }
    }

    /// Times the threads of `pid` from their next switch-out.
    func follow(_ pid: ProcessID) {
        try? Syscalls.bpfHashInsert(targets, key: UInt64(UInt32(bitPattern: pid.rawValue)))
    }

    /// Stops timing `pid`, which exited: its number may come back as another's.
    func unfollow(_ pid: ProcessID) {
        Syscalls.bpfMapRemove(targets, key: UInt64(UInt32(bitPattern: pid.rawValue)))
    }

    /// Opens an interval for a thread found asleep, unless it has since left
    /// a CPU (the program then opened one itself). Returns whether it did.
    /// `runtime`: its run time then (ns, /proc's schedstat), as the program
    /// keeps it for the intervals it opens.
    func markBlocked(_ tid: ThreadID, of pid: ProcessID, since start: UInt64, runtime: UInt64) -> Bool {
        var value = [UInt8](repeating: 0, count: Self.valueSize)
        withUnsafeBytes(of: start.littleEndian) { value.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: UInt32(bitPattern: pid.rawValue).littleEndian) { value.replaceSubrange(8..<12, with: $0) }
        withUnsafeBytes(of: UInt32(CPERFPROBE_SWITCH_BEFORE).littleEndian) { value.replaceSubrange(12..<16, with: $0) }
        withUnsafeBytes(of: runtime.littleEndian) { value.replaceSubrange(16..<24, with: $0) }
        return (try? Syscalls.bpfMapPut(open, key: UInt64(UInt32(bitPattern: tid.rawValue)), value: value, onlyNew: true)) != nil
    }

    /// The intervals open now, ending at `end`.
    func openIntervals(end: UInt64) -> [SwitchRecord.Interval] {
        Syscalls.bpfMapEntries(open, valueSize: Self.valueSize, capacity: Int(Self.openIntervals)).compactMap { entry in
            guard entry.value.count == Self.valueSize else { return nil }
            let word = { (offset: Int) in entry.value[offset..<offset + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
            let start = entry.value[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard start <= end else { return nil }
            return SwitchRecord.Interval(tid: ThreadID(Int32(truncatingIfNeeded: entry.key)), pid: ProcessID(Int32(bitPattern: word(8))),
                                         start: start, end: end, flags: word(12))
        }
    }

    /// The records written since the last call, in ring order; those that
    /// do not parse are dropped.
    func take() -> [SwitchRecord] {
        ring.take().compactMap(SwitchRecord.parse)
    }

    /// What the program could not record: intervals and stack records the
    /// ring had no room for, and intervals the open map had no room for.
    var losses: (intervals: UInt64, stacks: UInt64, unopened: UInt64) {
        let map = settings
        let value = { (slot: Int32) in Syscalls.bpfArrayGet(map, key: UInt32(slot)) ?? 0 }
        return (value(Int32(CPERFPROBE_SWITCH_INTERVAL_LOSSES)), value(Int32(CPERFPROBE_SWITCH_STACK_LOSSES)),
                value(Int32(CPERFPROBE_SWITCH_OPEN_FULL)))
    }

    /// Sets N from the switch-outs counted since the last call (at least
    /// 0.1 s ago): a storm's first moments cost what they cost.
    mutating func adapt() {
        let now = Syscalls.monotonicNanoseconds()
        guard now &- lastTime >= 100_000_000,
              let count = Syscalls.bpfArrayGet(settings, key: UInt32(CPERFPROBE_SWITCH_OUTS)) else { return }
        let perSecond = Double(count &- lastCount) / (Double(now &- lastTime) / 1e9)
        lastCount = count
        lastTime = now
        let wanted = max(1, UInt64(exactly: (perSecond / Double(Self.stacksPerSecond)).rounded(.up)) ?? 1)
        if wanted != keepOneIn, (try? Syscalls.bpfArraySet(settings, key: UInt32(CPERFPROBE_SWITCH_KEEP_ONE_IN), wanted)) != nil {
            keepOneIn = wanted
        }
    }
}
