/// A record from the in-process heap probe (probes/heapprobe/include/heapprobe.h).
public enum HeapRecord: Sendable {
    /// A sampled allocation, with what the agent needs to unwind its stack.
    case allocation(HeapAllocation)
    /// Sampled allocations were freed (address, CLOCK_MONOTONIC ns), batched by a thread.
    case frees(pid: ProcessID, [(address: UInt64, time: UInt64)])

    /// The process the record says it is from.
    var pid: ProcessID {
        switch self {
        case .allocation(let allocation): allocation.pid
        case .frees(let pid, _): pid
        }
    }

    static let allocationType: UInt32 = 1
    static let freesType: UInt32 = 2
    static let registerCount = 24
    /// type, pid, tid, stack_size, address, size, weight, time, dropped, registers.
    static let allocationHeaderSize = 16 + 8 * 5 + 8 * registerCount

    /// Decodes a message: a thread's batch of records back to back. Stops at
    /// the first malformed one.
    public static func parseBatch(_ bytes: UnsafeRawBufferPointer) -> [HeapRecord] {
        var records: [HeapRecord] = []
        var offset = 0
        while offset + 16 <= bytes.count {
            let length: Int
            switch bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self) {
            case allocationType:
                length = allocationHeaderSize + Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            case freesType:
                length = 16 + 16 * Int(bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self))
            default:
                return records
            }
            guard offset + length <= bytes.count,
                  let record = parse(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])) else { return records }
            records.append(record)
            offset += length
        }
        return records
    }

    /// Decodes one record; nil when it is not well-formed.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> HeapRecord? {
        var reader = ByteReader(bytes)
        switch reader.u32() {
        case freesType:
            let pid = reader.i32()
            let count = Int(reader.u32())
            _ = reader.u32()
            guard count <= reader.remaining / 16 else { return nil }
            let entries = (0..<count).map { _ in (address: reader.u64(), time: reader.u64()) }
            return reader.overran ? nil : .frees(pid: ProcessID(pid), entries)
        case allocationType:
            let pid = reader.i32(), tid = reader.i32()
            let stackSize = Int(reader.u32())
            let address = reader.u64(), size = reader.u64(), weight = reader.u64(), time = reader.u64()
            let dropped = reader.u64()
            let registers = (0..<registerCount).map { _ in reader.u64() }
            guard !reader.overran, reader.remaining == stackSize else { return nil }
            return .allocation(HeapAllocation(pid: ProcessID(pid), tid: ThreadID(tid), address: address, size: size,
                                              weight: weight, time: time, droppedBefore: dropped, registers: registers,
                                              stack: Array(bytes[reader.offset...])))
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
    /// Samples the process dropped, its socket full, since its previous record.
    public var droppedBefore: UInt64
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
