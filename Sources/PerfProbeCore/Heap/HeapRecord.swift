/// A record from the in-process heap probe (probes/heapprobe/include/heapprobe.h).
public enum HeapRecord: Sendable {
    /// A sampled allocation, with what the agent needs to unwind its stack.
    case allocation(HeapAllocation)
    /// A sampled allocation was freed (CLOCK_MONOTONIC ns).
    case free(pid: ProcessID, address: UInt64, time: UInt64)

    /// The process the record says it is from.
    var pid: ProcessID {
        switch self {
        case .allocation(let allocation): allocation.pid
        case .free(let pid, _, _): pid
        }
    }

    /// When the target says it happened.
    var time: UInt64 {
        switch self {
        case .allocation(let allocation): allocation.time
        case .free(_, _, let time): time
        }
    }

    static let allocationType: UInt64 = 1
    static let freeType: UInt64 = 2
    static let registerCount = 24
    /// word, pid, tid, stack_size, reserved, address, size, weight, time, registers.
    static let allocationHeaderSize = 8 + 16 + 8 * 4 + 8 * registerCount
    static let freeSize = 32

    /// Decodes records back to back, each led by its length and type word.
    /// Stops at the first malformed one.
    public static func parseBatch(_ bytes: UnsafeRawBufferPointer) -> [HeapRecord] {
        var records: [HeapRecord] = []
        var offset = 0
        while bytes.count - offset >= 8 {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= 8, length <= bytes.count - offset,
                  let record = parse(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])) else { return records }
            records.append(record)
            offset += length
        }
        return records
    }

    /// Decodes one record; nil when it is not well-formed.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> HeapRecord? {
        var reader = ByteReader(bytes)
        let word = reader.u64()
        guard Int(word & 0xffff_ffff) == bytes.count else { return nil }
        switch word >> 32 {
        case freeType:
            let pid = reader.i32()
            _ = reader.u32()
            let address = reader.u64(), time = reader.u64()
            return reader.overran || bytes.count != freeSize ? nil : .free(pid: ProcessID(pid), address: address, time: time)
        case allocationType:
            let pid = reader.i32(), tid = reader.i32()
            let stackSize = Int(reader.u32())
            _ = reader.u32()
            let address = reader.u64(), size = reader.u64(), weight = reader.u64(), time = reader.u64()
            let registers = (0..<registerCount).map { _ in reader.u64() }
            // The claim is a whole stack copy's; the copy may be shorter.
            guard !reader.overran, stackSize <= reader.remaining else { return nil }
            return .allocation(HeapAllocation(pid: ProcessID(pid), tid: ThreadID(tid), address: address, size: size,
                                              weight: weight, time: time, registers: registers,
                                              stack: Array(bytes[reader.offset..<reader.offset + stackSize])))
        default:
            return nil
        }
    }
}

public struct HeapAllocation: Hashable, Sendable {
    public var pid: ProcessID
    public var tid: ThreadID
    public var address: UInt64
    public var size: UInt64
    /// Bytes the sample stands for: size over the chance it was sampled.
    public var weight: UInt64
    /// CLOCK_MONOTONIC nanoseconds.
    public var time: UInt64
    /// PERF_REG_X86_* order, taken inside the probe.
    public var registers: [UInt64]
    public var stack: [UInt8]

    /// The allocation as a sample the unwinder takes: same registers and stack copy.
    var asSample: SampleRecord {
        var sample = SampleRecord(ip: registers[8], pid: pid, tid: tid, time: time, cpu: 0, period: 0, callchain: [], misc: 0)
        sample.userRegisters = registers
        sample.userStack = stack
        return sample
    }
}
