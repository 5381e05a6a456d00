import CPerfProbe

/// A record of the allocator probes' BPF programs (layout in
/// `CPerfProbe.h`), decoded into the sample an allocator uprobe's perf
/// event would have written: registers indexed by PERF_REG_X86_*, the stack
/// copy. Pure: tested against byte fixtures and fuzzed.
public struct ProbeRecord: Hashable, Sendable {
    /// The program that wrote it (`AllocatorProbePrograms`' index of its event).
    public var tag: UInt32
    public var sample: SampleRecord

    /// Nil for a record too short for its kind, or with no process (the
    /// program found the agent's pid namespace not the target's).
    public static func parse(_ bytes: [UInt8]) -> ProbeRecord? {
        bytes.withUnsafeBytes { buffer -> ProbeRecord? in
            var reader = ByteReader(buffer)
            let tag = reader.u32()
            let stackBytes = Int(reader.u32())
            let tid = reader.i32(), pid = reader.i32()
            let time = reader.u64()
            guard !reader.overran, pid > 0, tid > 0 else { return nil }
            var sample = SampleRecord(ip: 0, pid: ProcessID(pid), tid: ThreadID(tid), time: time, cpu: 0, period: 1,
                                      callchain: [], misc: 0)
            var registers = [UInt64](repeating: 0, count: SampleLayout.registerCount)
            if buffer.count == Int(CPERFPROBE_PROBE_ENTRY_BYTES) {
                // DI, SI, DX, CX, R8, R9, IP, SP, then the stack's top word.
                for index in [5, 4, 3, 2, 16, 17, 8, 7] { registers[index] = reader.u64() }
                sample.userStack = Array(buffer[reader.offset..<reader.offset + 8])
            } else {
                guard buffer.count >= Int(CPERFPROBE_PROBE_RETURN_BYTES) else { return nil }
                for index in registers.indices { registers[index] = reader.u64() }
                // The program's count of bytes copied, never past the record.
                let copied = min(stackBytes, buffer.count - reader.offset)
                sample.userStack = Array(buffer[reader.offset..<reader.offset + copied])
            }
            sample.ip = registers[8]
            sample.userRegisters = registers
            return ProbeRecord(tag: tag, sample: sample)
        }
    }
}
