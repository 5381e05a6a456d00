import CPerfProbe

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

/// The sampling events of one target and the rings they write to: one ring
/// per CPU (the kernel refuses to mmap an inherited event that is not bound
/// to a CPU), and every other event of that CPU redirected into it with
/// PERF_EVENT_IOC_SET_OUTPUT. Owns the fds and mappings; unmaps and closes
/// them in `deinit`.
struct PerfEventGroup: ~Copyable {
    private struct Ring {
        let fd: Int32
        let base: UnsafeMutableRawPointer
        let length: Int
        var tail: UInt64
    }

    private var rings: [Ring] = []
    private var followers: [Int32] = []
    private let config: CPerfProbe_EventConfig
    private let event: SamplingEvent
    private let cpus: [Int32]
    private(set) var threads: Set<ThreadID> = []

    /// Opens the events for `scope`. `dataPages` (a power of two) sizes each ring.
    init(scope: SamplingScope, event: SamplingEvent, frequency: Int, includeKernel: Bool,
         layout: SampleLayout, cpus: [Int32], dataPages: Int) throws(SamplingError) {
        let pageSize = Syscalls.pageSize()
        var config = CPerfProbe_EventConfig()
        config.type = event.type
        config.config = event.config
        config.sample_period_or_frequency = UInt64(frequency)
        config.use_frequency = true
        config.sample_type = layout.sampleType
        config.sample_regs_user = layout.userRegisterMask
        config.sample_stack_user = layout.userStackSize
        config.wakeup_watermark = UInt32(dataPages * pageSize / 4)
        config.inherit = true
        config.exclude_kernel = !includeKernel
        config.exclude_callchain_kernel = !includeKernel
        config.side_band = true
        if case .launched = scope {
            config.disabled = true
            config.enable_on_exec = true
        }
        self.config = config
        self.event = event
        self.cpus = cpus

        try openThread(ThreadID(scope.pid.rawValue), dataPages: dataPages, pageSize: pageSize)
    }

    deinit {
        for ring in rings {
            Syscalls.munmap(ring.base, length: ring.length)
            Syscalls.close(ring.fd)
        }
        for fd in followers { Syscalls.close(fd) }
    }

    var ringFDs: [Int32] { rings.map(\.fd) }

    /// Opens events for `tids` (threads of an attached process that no
    /// followed thread created). Returns those opened; exited ones are skipped.
    mutating func follow(_ tids: [ThreadID]) throws(SamplingError) -> [ThreadID] {
        var opened: [ThreadID] = []
        for tid in tids where !threads.contains(tid) {
            do throws(SamplingError) {
                try openThread(tid, dataPages: 0, pageSize: Syscalls.pageSize())
                opened.append(tid)
            } catch .targetGone {
                continue
            } catch {
                throw error
            }
        }
        return opened
    }

    private mutating func openThread(_ tid: ThreadID, dataPages: Int, pageSize: Int) throws(SamplingError) {
        for (index, cpu) in cpus.enumerated() {
            let fd: Int32
            do {
                fd = try Syscalls.perfEventOpen(config, pid: tid.rawValue, cpu: cpu)
            } catch {
                if error == .noSuchProcess { throw .targetGone(ProcessID(tid.rawValue)) }
                throw SamplingError.opening(event, error)
            }
            if index < rings.count {
                followers.append(fd)
                do {
                    try Syscalls.perfEventSetOutput(fd, ringFD: rings[index].fd)
                } catch {
                    throw .system("redirecting thread \(tid) to the CPU \(cpu) ring", error)
                }
            } else {
                // Unprivileged users may lock only perf_event_mlock_kb: halve until it fits.
                var pages = dataPages
                while true {
                    let length = (pages + 1) * pageSize
                    do {
                        let base = try Syscalls.mmapShared(fd, length: length, writable: true)
                        rings.append(Ring(fd: fd, base: base, length: length, tail: 0))
                        break
                    } catch {
                        if error == .notPermitted && pages > 8 {
                            pages /= 2
                            continue
                        }
                        Syscalls.close(fd)
                        throw .system("mapping the CPU \(cpu) ring (\(length) bytes)", error)
                    }
                }
            }
        }
        threads.insert(tid)
    }

    /// Copies out every byte the kernel has written since the last call, ring
    /// by ring, and hands the ring space back.
    mutating func drain() -> [[UInt8]] {
        var out: [[UInt8]] = []
        for i in rings.indices {
            let control = rings[i].base
            let head = CPerfProbe_ring_load_head(control)
            let tail = rings[i].tail
            guard head > tail else { continue }
            let dataOffset = Int(CPerfProbe_ring_data_offset(control))
            let dataSize = Int(CPerfProbe_ring_data_size(control))
            let data = UnsafeRawBufferPointer(start: control + dataOffset, count: dataSize)
            let count = Int(head - tail)
            let start = Int(tail % UInt64(dataSize))
            var bytes = [UInt8]()
            bytes.reserveCapacity(count)
            let first = min(count, dataSize - start)
            bytes.append(contentsOf: data[start..<start + first])
            if first < count { bytes.append(contentsOf: data[0..<count - first]) }
            CPerfProbe_ring_store_tail(control, head)
            rings[i].tail = head
            out.append(bytes)
        }
        return out
    }

    func disable() {
        for fd in ringFDs + followers { try? Syscalls.perfEventDisable(fd) }
    }
}
