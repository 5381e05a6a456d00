/// What sampling follows.
public enum SamplingScope: Sendable {
    /// A process started gated by perfprobe: events on its pid with `inherit`
    /// (so threads, forks and exec'd children follow) and `enable_on_exec`
    /// (so counting starts at the command's first instruction).
    case launched(ProcessID)
    /// A running process: one inheriting event per thread that exists at
    /// attach, so threads created later by any of them follow too.
    case attached(ProcessID)

    var pid: ProcessID {
        switch self {
        case .launched(let pid), .attached(let pid): pid
        }
    }
}

/// The events of one target and the rings they write to: one ring per CPU
/// (the kernel refuses to mmap an inherited event that is not bound to a
/// CPU), owned by the first spec's event on that CPU, and every other event
/// of that CPU — other threads', other specs' — redirected into it
/// with PERF_EVENT_IOC_SET_OUTPUT. Records tell their event by
/// PERF_SAMPLE_IDENTIFIER. Owns the fds and mappings; unmaps and closes them
/// in `deinit`.
struct PerfEventGroup: ~Copyable {
    private struct Ring {
        let fd: Int32
        let base: UnsafeMutableRawPointer
        let length: Int
        var tail: UInt64
    }

    private var rings: [Ring] = []
    /// Per spec, every fd opened for it (ring owners included).
    private var fds: [[Int32]]
    /// Every fd in `fds`.
    private var owned = FileDescriptors()
    /// Event id → index of its spec.
    private var specOfID: [UInt64: Int] = [:]
    private let specs: [EventSpec]
    private let cpus: [Int32]
    private(set) var threads: Set<ThreadID> = []

    /// What one set of events (one per spec and CPU) samples.
    enum Tasks: CustomStringConvertible {
        /// One thread, and with `inherit` the threads and processes it creates.
        case thread(ThreadID)
        /// Every task of each CPU; no thread is followed.
        case every
        /// The tasks of the cgroup v2 directory open as this fd (and of the
        /// cgroups below it), filtered by the kernel.
        case cgroup(Int32)

        var description: String {
            switch self {
            case .thread(let tid): "thread \(tid)"
            case .every: "every task"
            case .cgroup: "the cgroup's tasks"
            }
        }
    }

    /// Opens `specs` on `tasks`. `dataPages` (a power of two) sizes each ring.
    init(_ tasks: Tasks, specs: [EventSpec], cpus: [Int32], dataPages: Int) throws(SamplingError) {
        self.specs = specs
        self.cpus = cpus
        fds = Array(repeating: [], count: specs.count)
        try open(tasks, dataPages: dataPages, pageSize: Syscalls.pageSize())
    }

    deinit {
        for ring in rings { Syscalls.munmap(ring.base, length: ring.length) }
    }

    var ringFDs: [Int32] { rings.map(\.fd) }

    /// The sample layout of each event whose layout is not the first spec's.
    var layoutsByID: [UInt64: SampleLayout] {
        specOfID.filter { specs[$0.value].layout != specs[0].layout }.mapValues { specs[$0].layout }
    }

    /// Opens events for `tids` (threads of an attached process that no
    /// followed thread created). Returns those opened; exited ones are skipped.
    mutating func follow(_ tids: [ThreadID]) throws(SamplingError) -> [ThreadID] {
        var opened: [ThreadID] = []
        for tid in tids where !threads.contains(tid) {
            do throws(SamplingError) {
                try open(.thread(tid), dataPages: 0, pageSize: Syscalls.pageSize())
                opened.append(tid)
            } catch .targetGone {
                continue
            } catch {
                throw error
            }
        }
        return opened
    }

    private mutating func open(_ tasks: Tasks, dataPages: Int, pageSize: Int) throws(SamplingError) {
        for (index, cpu) in cpus.enumerated() {
            for (specIndex, spec) in specs.enumerated() {
                let fd: Int32
                do {
                    fd = try spec.open(tasks, cpu: cpu)
                } catch {
                    if error == .noSuchProcess, case .thread(let tid) = tasks { throw .targetGone(ProcessID(tid.rawValue)) }
                    throw spec.failure(error)
                }
                fds[specIndex].append(owned.adopt(fd))
                if let id = try? Syscalls.perfEventID(fd) { specOfID[id] = specIndex }
                if index < rings.count {
                    do {
                        try Syscalls.perfEventSetOutput(fd, ringFD: rings[index].fd)
                    } catch {
                        throw .system("redirecting \(spec.name) of \(tasks) to the CPU \(cpu) ring", error)
                    }
                } else {
                    try mapRing(fd, cpu: cpu, dataPages: dataPages, pageSize: pageSize)
                }
            }
        }
        if case .thread(let tid) = tasks { threads.insert(tid) }
    }

    private mutating func mapRing(_ fd: Int32, cpu: Int32, dataPages: Int, pageSize: Int) throws(SamplingError) {
        // Unprivileged users may lock only perf_event_mlock_kb: halve until it fits.
        var pages = dataPages
        while true {
            let length = (pages + 1) * pageSize
            do {
                let base = try Syscalls.mmapShared(fd, length: length, writable: true)
                rings.append(Ring(fd: fd, base: base, length: length, tail: 0))
                return
            } catch {
                if error == .notPermitted && pages > 8 {
                    pages /= 2
                    continue
                }
                throw .system("mapping the CPU \(cpu) ring (\(length) bytes)", error)
            }
        }
    }

    /// Copies out every byte the kernel has written since the last call, ring
    /// by ring, and hands the ring space back.
    mutating func drain() -> [[UInt8]] {
        var out: [[UInt8]] = []
        for i in rings.indices {
            let control = rings[i].base
            let head = Syscalls.perfRingHead(control)
            let tail = rings[i].tail
            guard head > tail else { continue }
            // The control page is shared memory: its fields are checked
            // against the mapping before any of them sizes a copy.
            let (dataOffset, dataSize) = Syscalls.perfRingData(control)
            let length = UInt64(rings[i].length)
            guard dataSize > 0, dataOffset < length, dataSize <= length - dataOffset, head - tail <= dataSize else {
                // Nothing in the ring can be told apart: drop it, as the kernel would have.
                Syscalls.perfRingSetTail(control, head)
                rings[i].tail = head
                continue
            }
            let size = Int(dataSize)
            let data = UnsafeRawBufferPointer(start: control + Int(dataOffset), count: size)
            let count = Int(head - tail)
            let start = Int(tail % dataSize)
            var bytes = [UInt8]()
            bytes.reserveCapacity(count)
            let first = min(count, size - start)
            bytes.append(contentsOf: data[start..<start + first])
            if first < count { bytes.append(contentsOf: data[0..<count - first]) }
            Syscalls.perfRingSetTail(control, head)
            rings[i].tail = head
            out.append(bytes)
        }
        return out
    }

    func disable() {
        setEnabled(false, specs: specs.indices)
    }

    /// Turns the events of `specs` on or off on every thread (ioctls on an
    /// event reach the copies threads inherited from it).
    func setEnabled(_ enabled: Bool, specs chosen: some Sequence<Int>) {
        for index in chosen {
            for fd in fds[index] {
                if enabled { try? Syscalls.perfEventEnable(fd) } else { try? Syscalls.perfEventDisable(fd) }
            }
        }
    }
}
