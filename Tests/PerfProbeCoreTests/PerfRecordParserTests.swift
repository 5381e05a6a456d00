import CPerfProbe
import Testing
@testable import PerfProbeCore

/// Builds perf ring records byte by byte, as the kernel lays them out.
struct RecordBytes {
    var bytes: [UInt8] = []

    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    /// NUL-terminated and padded to 8 bytes.
    mutating func string(_ s: String) {
        bytes += Array(s.utf8) + [0]
        while bytes.count % 8 != 0 { bytes.append(0) }
    }
    /// The sample_id trailer for PERF_SAMPLE_TID | TIME | CPU | IDENTIFIER.
    mutating func trailer(pid: UInt32, tid: UInt32, time: UInt64, cpu: UInt32) {
        u32(pid); u32(tid); u64(time); u32(cpu); u32(0); u64(77)
    }

    static func record(_ type: perf_event_type, misc: UInt16 = 0, _ body: (inout RecordBytes) -> Void) -> [UInt8] {
        var b = RecordBytes()
        body(&b)
        var header = RecordBytes()
        header.u32(type.rawValue)
        header.u16(misc)
        header.u16(UInt16(8 + b.bytes.count))
        return header.bytes + b.bytes
    }
}

@Suite struct PerfRecordParserTests {
    let parser = PerfRecordParser(layout: .callchain)
    static let kernelMarker = UInt64(bitPattern: -128)
    static let userMarker = UInt64(bitPattern: -512)

    static func sample(pid: UInt32 = 100, tid: UInt32 = 101, time: UInt64 = 5000) -> [UInt8] {
        RecordBytes.record(PERF_RECORD_SAMPLE, misc: UInt16(PERF_RECORD_MISC_USER)) { b in
            b.u64(77) // identifier
            b.u64(0x401000) // ip
            b.u32(pid); b.u32(tid)
            b.u64(time)
            b.u32(1); b.u32(0) // cpu, reserved
            b.u64(10_101_010) // period
            b.u64(5)
            for address in [kernelMarker, 0xffff_ffff_8100_0010, userMarker, 0x401000, 0x402005] { b.u64(address) }
        }
    }

    @Test func sampleWithCallchain() throws {
        let records = parser.parse(Self.sample())
        guard case .sample(let sample) = try #require(records.first) else {
            Issue.record("not a sample: \(records)")
            return
        }
        #expect(sample.id == 77 && sample.ip == 0x401000)
        #expect(sample.pid == ProcessID(100) && sample.tid == ThreadID(101))
        #expect(sample.time == 5000 && sample.cpu == 1 && sample.period == 10_101_010)
        #expect(sample.callchain.count == 5)
        let stack = CallchainUnwinder().unwind(sample)
        #expect(stack.kernel == [0xffff_ffff_8100_0010])
        #expect(stack.user == [0x401000, 0x402004]) // callers: return address minus one
    }

    @Test func mmap2CommForkLostThrottle() throws {
        var bytes = RecordBytes.record(PERF_RECORD_MMAP2) { b in
            b.u32(100); b.u32(100)
            b.u64(0x7f00_0000_0000); b.u64(0x2000); b.u64(0x1000)
            b.u32(254); b.u32(0); b.u64(777); b.u64(0)
            b.u32(0x5); b.u32(0x2) // PROT_READ|PROT_EXEC, MAP_PRIVATE
            b.string("/usr/lib/libplugin.so")
            b.trailer(pid: 100, tid: 100, time: 4000, cpu: 0)
        }
        bytes += RecordBytes.record(PERF_RECORD_COMM, misc: UInt16(PERF_RECORD_MISC_COMM_EXEC)) { b in
            b.u32(100); b.u32(100)
            b.string("child_worker")
            b.trailer(pid: 100, tid: 100, time: 3000, cpu: 0)
        }
        bytes += RecordBytes.record(PERF_RECORD_FORK) { b in
            b.u32(200); b.u32(100); b.u32(201); b.u32(100); b.u64(3500)
            b.trailer(pid: 200, tid: 201, time: 3500, cpu: 1)
        }
        bytes += RecordBytes.record(PERF_RECORD_LOST) { b in
            b.u64(1); b.u64(42)
            b.trailer(pid: 0, tid: 0, time: 0, cpu: 0)
        }
        bytes += RecordBytes.record(PERF_RECORD_THROTTLE) { b in
            b.u64(6000); b.u64(1); b.u64(1)
            b.trailer(pid: 0, tid: 0, time: 6000, cpu: 0)
        }
        let records = parser.parse(bytes)
        #expect(records.count == 5)
        #expect(records[0] == .mmap(pid: ProcessID(100), tid: ThreadID(100), time: 4000, mapping: MemoryMapping(
            start: 0x7f00_0000_0000, end: 0x7f00_0000_2000, fileOffset: 0x1000, executable: true, inode: 777,
            path: "/usr/lib/libplugin.so")))
        #expect(records[1] == .comm(pid: ProcessID(100), tid: ThreadID(100), time: 3000, name: "child_worker", exec: true))
        #expect(records[2] == .fork(pid: ProcessID(200), parentPID: ProcessID(100), tid: ThreadID(201), parentTID: ThreadID(100), time: 3500))
        #expect(records[3] == .lost(count: 42))
        #expect(records[4] == .throttle(time: 6000))
    }

    @Test func truncatedTailIsIgnored() {
        let whole = Self.sample()
        let records = parser.parse(whole + Array(whole.prefix(20)))
        #expect(records.count == 1)
    }

    @Test func corruptCallchainLengthDoesNotCrash() {
        var bytes = Self.sample()
        // Overwrite nr (after 8 header + 48 fixed bytes) with a huge count.
        for i in 0..<8 { bytes[56 + i] = 0xff }
        #expect(parser.parse(bytes) == [.other(type: PERF_RECORD_SAMPLE.rawValue)])
    }

    @Test func unknownRecordTypesAreKeptAsOther() {
        let bytes = RecordBytes.record(PERF_RECORD_NAMESPACES) { b in b.trailer(pid: 1, tid: 1, time: 1, cpu: 0) }
        #expect(parser.parse(bytes) == [.other(type: PERF_RECORD_NAMESPACES.rawValue)])
    }

    /// Why a thread waited, from the kernel frames nearest schedule() first.
    @Test func offCPUReasonsFromKernelStacks() {
        let reason: ([String], Bool) -> String = OffCPUReport.reason
        #expect(reason(["__schedule", "schedule", "do_nanosleep", "hrtimer_nanosleep", "__x64_sys_clock_nanosleep"], false) == "sleep")
        #expect(reason(["__schedule", "schedule", "futex_do_wait", "__futex_wait", "futex_wait", "do_futex"], false) == "lock")
        #expect(reason(["schedule", "anon_pipe_read", "vfs_read", "ksys_read"], false) == "io")
        #expect(reason(["schedule", "schedule_hrtimeout_range", "do_poll", "do_sys_poll"], false) == "poll")
        #expect(reason(["schedule", "ep_poll", "do_epoll_wait"], false) == "poll")
        // Waiting on I/O (io_schedule) is io, whatever led to it; a fault that waits otherwise is page_fault.
        #expect(reason(["schedule", "io_schedule", "folio_wait_bit_common", "filemap_fault", "handle_mm_fault", "exc_page_fault", "ksys_read"], false) == "io")
        #expect(reason(["schedule", "handle_mm_fault", "do_user_addr_fault", "exc_page_fault"], false) == "page_fault")
        #expect(reason(["schedule", "do_nanosleep"], true) == "preempted")
        #expect(reason(["schedule", "do_wait", "kernel_wait4"], false) == "other")
        #expect(reason([], false) == "other")
    }

    @Test func userRegistersAndStackCopy() throws {
        let layout = SampleLayout.userStack(64)
        let bytes = RecordBytes.record(PERF_RECORD_SAMPLE, misc: UInt16(PERF_RECORD_MISC_USER)) { b in
            b.u64(5)
            b.u64(0x401000)
            b.u32(7); b.u32(8)
            b.u64(99)
            b.u32(0); b.u32(0)
            b.u64(1)
            b.u64(1); b.u64(0x401000) // callchain: just the IP
            b.u64(2) // PERF_SAMPLE_REGS_ABI_64
            // 17 registers in mask order: AX…IP (0–8), then R8…R15 (16–23).
            for index in [0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 17, 18, 19, 20, 21, 22, 23] { b.u64(UInt64(1000 + index)) }
            b.u64(64) // size copied
            for i in 0..<64 { b.bytes.append(UInt8(i)) }
            b.u64(40) // dyn_size: only 40 bytes were valid
        }
        guard case .sample(let sample) = try #require(PerfRecordParser(layout: layout).parse(bytes).first) else {
            Issue.record("not a sample")
            return
        }
        #expect(sample.userRegisters.count == 24)
        #expect(sample.userRegisters[7] == 1007) // SP
        #expect(sample.userRegisters[8] == 1008) // IP
        #expect(sample.userRegisters[16] == 1016 && sample.userRegisters[23] == 1023) // R8, R15
        #expect(sample.userRegisters[9] == 0) // FLAGS not asked for
        #expect(sample.userStack == (0..<40).map { UInt8($0) })
    }

    @Test func kernelThreadSampleHasNoUserRegisters() throws {
        let layout = SampleLayout.userStack(64)
        let bytes = RecordBytes.record(PERF_RECORD_SAMPLE) { b in
            b.u64(5)
            b.u64(0xffff_ffff_8100_0000)
            b.u32(0); b.u32(0)
            b.u64(1)
            b.u32(0); b.u32(0)
            b.u64(1)
            b.u64(0)
            b.u64(0) // PERF_SAMPLE_REGS_ABI_NONE
            b.u64(0) // no stack
        }
        guard case .sample(let sample) = try #require(PerfRecordParser(layout: layout).parse(bytes).first) else {
            Issue.record("not a sample")
            return
        }
        #expect(sample.userRegisters.isEmpty && sample.userStack.isEmpty)
    }
}
