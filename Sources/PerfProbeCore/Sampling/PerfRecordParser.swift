import CPerfProbe

/// Decodes the bytes of a perf ring buffer (a run of `perf_event_header`-led
/// records) into `PerfRecord`s. Pure: tested against byte fixtures.
public struct PerfRecordParser: Sendable {
    /// The layout of samples, and of the sample_id trailer of other records.
    public let layout: SampleLayout
    /// Samples of these events (by PERF_SAMPLE_IDENTIFIER, which every
    /// layout puts first) have a layout of their own.
    public var layouts: [UInt64: SampleLayout] = [:]

    public init(layout: SampleLayout) { self.layout = layout }

    /// Decodes every whole record in `bytes`; a truncated tail is ignored.
    public func parse(_ bytes: [UInt8]) -> [PerfRecord] {
        bytes.withUnsafeBytes { buffer in
            var records: [PerfRecord] = []
            var offset = 0
            while offset + 8 <= buffer.count {
                let size = Int(buffer.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
                guard size >= 8, offset + size <= buffer.count else { break }
                records.append(parseRecord(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + size])))
                offset += size
            }
            return records
        }
    }

    func parseRecord(_ record: UnsafeRawBufferPointer) -> PerfRecord {
        var reader = ByteReader(record)
        let type = reader.u32()
        let misc = reader.u16()
        _ = reader.u16()
        switch type {
        case PERF_RECORD_SAMPLE.rawValue:
            return parseSample(&reader, misc: misc).map(PerfRecord.sample) ?? .other(type: type)
        case PERF_RECORD_MMAP.rawValue, PERF_RECORD_MMAP2.rawValue:
            return parseMmap(&reader, record: record, misc: misc, version2: type == PERF_RECORD_MMAP2.rawValue)
        case PERF_RECORD_COMM.rawValue:
            let pid = reader.i32(), tid = reader.i32()
            let name = reader.cString(limit: record.count - layout.sampleIDTrailerSize - reader.offset)
            return .comm(pid: ProcessID(pid), tid: ThreadID(tid), time: trailerTime(record),
                         name: name, exec: misc & UInt16(PERF_RECORD_MISC_COMM_EXEC) != 0)
        case PERF_RECORD_FORK.rawValue, PERF_RECORD_EXIT.rawValue:
            let pid = reader.i32(), ppid = reader.i32(), tid = reader.i32(), ptid = reader.i32()
            let time = reader.u64()
            return type == PERF_RECORD_FORK.rawValue
                ? .fork(pid: ProcessID(pid), parentPID: ProcessID(ppid), tid: ThreadID(tid), parentTID: ThreadID(ptid), time: time)
                : .exit(pid: ProcessID(pid), parentPID: ProcessID(ppid), tid: ThreadID(tid), parentTID: ThreadID(ptid), time: time)
        case PERF_RECORD_LOST.rawValue:
            _ = reader.u64()
            return .lost(count: reader.u64())
        case PERF_RECORD_LOST_SAMPLES.rawValue:
            return .lostSamples(count: reader.u64())
        case PERF_RECORD_THROTTLE.rawValue:
            return .throttle(time: reader.u64())
        case PERF_RECORD_UNTHROTTLE.rawValue:
            return .unthrottle(time: reader.u64())
        default:
            return .other(type: type)
        }
    }

    private func parseSample(_ reader: inout ByteReader, misc: UInt16) -> SampleRecord? {
        var sample = SampleRecord(ip: 0, pid: ProcessID(0), tid: ThreadID(0), time: 0, cpu: 0, period: 0, callchain: [], misc: misc)
        var layout = layout
        if layout.has(PERF_SAMPLE_IDENTIFIER) {
            sample.id = reader.u64()
            layout = layouts[sample.id] ?? layout
        }
        if layout.has(PERF_SAMPLE_IP) { sample.ip = reader.u64() }
        if layout.has(PERF_SAMPLE_TID) {
            sample.pid = ProcessID(reader.i32())
            sample.tid = ThreadID(reader.i32())
        }
        if layout.has(PERF_SAMPLE_TIME) { sample.time = reader.u64() }
        if layout.has(PERF_SAMPLE_ADDR) { _ = reader.u64() }
        if layout.has(PERF_SAMPLE_ID) { _ = reader.u64() }
        if layout.has(PERF_SAMPLE_STREAM_ID) { _ = reader.u64() }
        if layout.has(PERF_SAMPLE_CPU) {
            sample.cpu = reader.u32()
            _ = reader.u32()
        }
        if layout.has(PERF_SAMPLE_PERIOD) { sample.period = reader.u64() }
        if layout.has(PERF_SAMPLE_CALLCHAIN) {
            let count = reader.u64()
            guard count <= UInt64(reader.remaining / 8) else { return nil }
            sample.callchain = (0..<count).map { _ in reader.u64() }
        }
        if layout.has(PERF_SAMPLE_REGS_USER) {
            // abi is PERF_SAMPLE_REGS_ABI_NONE (0) when there were no user registers.
            if reader.u64() != 0 {
                var registers = [UInt64](repeating: 0, count: SampleLayout.registerCount)
                for index in 0..<64 where layout.userRegisterMask & (1 << UInt64(index)) != 0 {
                    let value = reader.u64()
                    if index < registers.count { registers[index] = value }
                }
                sample.userRegisters = registers
            }
        }
        if layout.has(PERF_SAMPLE_STACK_USER) {
            let size = reader.u64()
            if size > 0 {
                guard size <= UInt64(reader.remaining) else { return nil }
                let start = reader.offset
                reader.offset += Int(size)
                // dyn_size: how much of the copy the kernel could fill (never trusted past the copy).
                let valid = Int(min(reader.u64(), size))
                sample.userStack = Array(reader.buffer[start..<start + valid])
            }
        }
        return reader.overran ? nil : sample
    }

    private func parseMmap(_ reader: inout ByteReader, record: UnsafeRawBufferPointer, misc: UInt16, version2: Bool) -> PerfRecord {
        let pid = reader.i32(), tid = reader.i32()
        let address = reader.u64(), length = reader.u64(), pgoff = reader.u64()
        var inode: UInt64 = 0
        var executable = misc & UInt16(PERF_RECORD_MISC_MMAP_DATA) == 0
        if version2 {
            // Either dev/inode or, with PERF_RECORD_MISC_MMAP_BUILD_ID, a build-id; 24 bytes both.
            _ = reader.u32(); _ = reader.u32()
            let ino = reader.u64()
            _ = reader.u64()
            if misc & UInt16(PERF_RECORD_MISC_MMAP_BUILD_ID) == 0 { inode = ino }
            let prot = reader.u32()
            _ = reader.u32()
            executable = prot & 0x4 != 0 // PROT_EXEC
        }
        let path = reader.cString(limit: record.count - layout.sampleIDTrailerSize - reader.offset)
        let mapping = MemoryMapping(start: address, end: address &+ length, fileOffset: pgoff,
                                    executable: executable, inode: inode, path: path)
        return .mmap(pid: ProcessID(pid), tid: ThreadID(tid), time: trailerTime(record), mapping: mapping)
    }

    /// The TIME field of the sample_id trailer, which follows TID when
    /// present; 0 when the layout lacks it or the record is too short.
    private func trailerTime(_ record: UnsafeRawBufferPointer) -> UInt64 {
        var offset = record.count - layout.sampleIDTrailerSize
        guard offset >= 8, layout.has(PERF_SAMPLE_TIME) else { return 0 }
        if layout.has(PERF_SAMPLE_TID) { offset += 8 }
        guard offset + 8 <= record.count else { return 0 }
        return UInt64(littleEndian: record.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

/// Little-endian reads over a record; reading past the end yields zeros and sets `overran`.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    var offset = 0
    var overran = false

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    var remaining: Int { buffer.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T {
        guard offset + MemoryLayout<T>.size <= buffer.count else {
            overran = true
            return 0
        }
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    mutating func u16() -> UInt16 { read(UInt16.self) }
    mutating func u32() -> UInt32 { read(UInt32.self) }
    mutating func i32() -> Int32 { read(Int32.self) }
    mutating func u64() -> UInt64 { read(UInt64.self) }

    /// A NUL-terminated string within the next `limit` bytes (records pad them to 8).
    mutating func cString(limit: Int) -> String {
        let end = offset + max(0, min(limit, remaining))
        let bytes = buffer[offset..<end]
        let length = bytes.firstIndex(of: 0).map { $0 - offset } ?? bytes.count
        defer { offset = end }
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + length]), as: UTF8.self)
    }
}
