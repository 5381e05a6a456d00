/// A record from a perf ring buffer, decoded into copied values.
public enum PerfRecord: Hashable, Sendable {
    /// PERF_RECORD_SAMPLE
    case sample(SampleRecord)
    /// PERF_RECORD_MMAP / PERF_RECORD_MMAP2: a new mapping in `pid`.
    case mmap(pid: ProcessID, tid: ThreadID, time: UInt64, mapping: MemoryMapping)
    /// PERF_RECORD_COMM: a thread's name changed; `exec` when caused by execve.
    case comm(pid: ProcessID, tid: ThreadID, time: UInt64, name: String, exec: Bool)
    /// PERF_RECORD_FORK: a new process (pid != parent pid) or thread.
    case fork(pid: ProcessID, parentPID: ProcessID, tid: ThreadID, parentTID: ThreadID, time: UInt64)
    /// PERF_RECORD_EXIT
    case exit(pid: ProcessID, parentPID: ProcessID, tid: ThreadID, parentTID: ThreadID, time: UInt64)
    /// PERF_RECORD_LOST: the ring was full and `count` records were dropped.
    case lost(count: UInt64)
    /// PERF_RECORD_LOST_SAMPLES: samples the kernel dropped before the ring.
    case lostSamples(count: UInt64)
    /// PERF_RECORD_THROTTLE: the kernel lowered the rate to bound its own cost.
    case throttle(time: UInt64)
    /// PERF_RECORD_UNTHROTTLE
    case unthrottle(time: UInt64)
    /// A record type perfprobe does not use.
    case other(type: UInt32)

    /// The record's timestamp, or nil for records without one.
    public var time: UInt64? {
        switch self {
        case .sample(let s): s.time
        case .mmap(_, _, let t, _), .comm(_, _, let t, _, _), .fork(_, _, _, _, let t), .exit(_, _, _, _, let t), .throttle(let t), .unthrottle(let t): t
        case .lost, .lostSamples, .other: nil
        }
    }
}

/// One PERF_RECORD_SAMPLE of the layout `SampleLayout` describes.
public struct SampleRecord: Hashable, Sendable {
    /// The event that wrote it (PERF_EVENT_IOC_ID of the event opened by perfprobe).
    public var id: UInt64 = 0
    public var ip: UInt64
    public var pid: ProcessID
    public var tid: ThreadID
    public var time: UInt64
    public var cpu: UInt32
    public var period: UInt64
    /// The kernel's frame-pointer walk, with PERF_CONTEXT_* markers between
    /// the kernel and user parts.
    public var callchain: [UInt64]
    /// PERF_SAMPLE_MISC_* bits of the header (e.g. PERF_RECORD_MISC_USER).
    public var misc: UInt16
    /// User registers indexed by PERF_REG_X86_*; empty when the sample was
    /// taken in a kernel thread or registers were not asked for.
    public var userRegisters: [UInt64] = []
    /// The copied user stack, from the stack pointer up (only the valid part).
    public var userStack: [UInt8] = []

    /// Callchain values at or above this (PERF_CONTEXT_MAX, i.e. -4095) are
    /// context markers such as PERF_CONTEXT_KERNEL (-128) and PERF_CONTEXT_USER (-512).
    static let contextMax = UInt64(bitPattern: -4095)
    static let contextKernel = UInt64(bitPattern: -128)
    static let contextUser = UInt64(bitPattern: -512)

    public init(ip: UInt64, pid: ProcessID, tid: ThreadID, time: UInt64, cpu: UInt32, period: UInt64, callchain: [UInt64], misc: UInt16) {
        self.ip = ip
        self.pid = pid
        self.tid = tid
        self.time = time
        self.cpu = cpu
        self.period = period
        self.callchain = callchain
        self.misc = misc
    }
}
