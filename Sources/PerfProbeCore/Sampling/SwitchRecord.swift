import CPerfProbe

/// A record of --off-cpu's program (`SwitchTracker`), from the bytes of its
/// ring. The bytes are the kernel's, but their sizes are checked against
/// the record before anything is copied. Pure.
enum SwitchRecord: Sendable, Equatable {
    /// A thread's time off the CPU, closed as it came back (or open at a cut).
    case interval(Interval)
    /// The stacks of a thread leaving the CPU: the kernel's frames, and its
    /// user registers and stack copy (or frame-pointer chain), as a sample's.
    /// Its time is the start of the interval it opens.
    case stacks(SampleRecord)

    struct Interval: Sendable, Equatable {
        var tid: ThreadID
        var pid: ProcessID
        var start: UInt64
        var end: UInt64
        var flags: UInt32

        /// Left the CPU runnable (preempted, or yielding).
        var runnable: Bool { flags & UInt32(CPERFPROBE_SWITCH_RUNNABLE) != 0 }
        /// Its stacks were taken (a stack record with its start came first).
        var sampled: Bool { flags & UInt32(CPERFPROBE_SWITCH_SAMPLED) != 0 }
        /// Open since before profiling (set by the agent, not seen leaving).
        var began: Bool { flags & UInt32(CPERFPROBE_SWITCH_BEFORE) != 0 }
        /// Its return to a CPU was not traced: it ends where the thread's
        /// next switch-out, less the time it ran in between, puts it.
        var returnUnseen: Bool { flags & UInt32(CPERFPROBE_SWITCH_RETURN_UNSEEN) != 0 }
    }

    static func parse(_ bytes: [UInt8]) -> SwitchRecord? {
        bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            let kind = reader.u32()
            let tid = ThreadID(Int32(bitPattern: reader.u32()))
            let pid = ProcessID(Int32(bitPattern: reader.u32()))
            let flags = reader.u32()
            let time = reader.u64()
            switch Int(kind) {
            case Int(CPERFPROBE_SWITCH_INTERVAL_RECORD):
                let end = reader.u64()
                guard !reader.overran, end >= time else { return nil }
                return .interval(Interval(tid: tid, pid: pid, start: time, end: end, flags: flags))
            case Int(CPERFPROBE_SWITCH_STACK_RECORD):
                guard buffer.count >= Int(CPERFPROBE_SWITCH_STACK_BYTES) else { return nil }
                // Sizes are bytes written, or a negative errno: none.
                let kernelBytes = Self.size(reader.u64(), capacity: Int(CPERFPROBE_SWITCH_KERNEL_FRAMES) * 8)
                let userBytes = Self.size(reader.u64(), capacity: Int(CPERFPROBE_SWITCH_USER_STACK))
                let framePointers = flags & 1 != 0
                reader.offset = Int(CPERFPROBE_SWITCH_REGISTERS_OFFSET)
                let registers = (0..<SampleLayout.registerCount).map { _ in reader.u64() }
                reader.offset = Int(CPERFPROBE_SWITCH_KERNEL_OFFSET)
                var callchain = [SampleRecord.contextKernel]
                callchain += (0..<kernelBytes / 8).map { _ in reader.u64() }
                let user = Int(CPERFPROBE_SWITCH_USER_OFFSET)
                var sample = SampleRecord(ip: registers[8], pid: pid, tid: tid, time: time, cpu: 0, period: 1, callchain: callchain, misc: 0)
                if framePointers {
                    reader.offset = user
                    sample.callchain.append(SampleRecord.contextUser)
                    sample.callchain += (0..<userBytes / 8).map { _ in reader.u64() }
                } else if userBytes > 0 {
                    sample.userRegisters = registers
                    sample.userStack = Array(buffer[user..<user + userBytes])
                }
                return reader.overran ? nil : .stacks(sample)
            default:
                return nil
            }
        }
    }

    private static func size(_ value: UInt64, capacity: Int) -> Int {
        let signed = Int64(bitPattern: value)
        return signed <= 0 ? 0 : Int(min(signed, Int64(capacity)))
    }
}
