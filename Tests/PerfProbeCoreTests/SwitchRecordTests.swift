import CPerfProbe
import Testing
@testable import PerfProbeCore

/// --off-cpu's records from its BPF program, and the tracepoint format its
/// offsets come from: parsed from bytes, and refused when they lie.
struct SwitchRecordTests {
    /// sched:sched_switch's format file as kernel 6.18 writes it.
    static let format = """
        name: sched_switch
        ID: 372
        format:
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
        \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

        \tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
        \tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
        \tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
        \tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
        \tfield:int broken;\toffset:x;\tsize:4;\tsigned:1;
        \tfield:int far;\toffset:99999;\tsize:4;\tsigned:1;

        print fmt: "prev_comm=%s prev_pid=%d", REC->prev_comm, REC->prev_pid
        """

    @Test func formatGivesFieldOffsets() {
        let fields = TracepointFormat.parse(Substring(Self.format)).fields
        #expect(fields["prev_state"] == .init(offset: 32, size: 8))
        #expect(fields["next_pid"] == .init(offset: 56, size: 4))
        #expect(fields["prev_comm"] == .init(offset: 8, size: 16))
        #expect(fields["broken"] == nil && fields["far"] == nil)
        #expect(TracepointFormat.parse("field:;offset:;size:").fields.isEmpty)
    }

    static func header(kind: Int32, tid: UInt32, pid: UInt32, flags: UInt32, time: UInt64) -> [UInt8] {
        bytes(UInt32(kind)) + bytes(tid) + bytes(pid) + bytes(flags) + bytes(time)
    }

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    @Test func intervalsParseAndLiesAreRefused() {
        let flags = UInt32(CPERFPROBE_SWITCH_RUNNABLE | CPERFPROBE_SWITCH_SAMPLED)
        let record = Self.header(kind: Int32(CPERFPROBE_SWITCH_INTERVAL_RECORD), tid: 12, pid: 10, flags: flags, time: 1000) + Self.bytes(UInt64(4000))
        guard case .interval(let interval)? = SwitchRecord.parse(record) else {
            Issue.record("not an interval")
            return
        }
        #expect(interval == .init(tid: ThreadID(12), pid: ProcessID(10), start: 1000, end: 4000, flags: flags))
        #expect(interval.runnable && interval.sampled && !interval.began)
        // Ending before it began, cut short, of no known kind: none.
        let backwards = Self.header(kind: Int32(CPERFPROBE_SWITCH_INTERVAL_RECORD), tid: 12, pid: 10, flags: 0, time: 5000) + Self.bytes(UInt64(4000))
        #expect(SwitchRecord.parse(backwards) == nil)
        #expect(SwitchRecord.parse(Array(record.prefix(28))) == nil)
        #expect(SwitchRecord.parse(Self.header(kind: 9, tid: 1, pid: 1, flags: 0, time: 1) + Self.bytes(UInt64(2))) == nil)
        #expect(SwitchRecord.parse([]) == nil)
    }

    static func stackRecord(flags: UInt32, kernelBytes: Int64, userBytes: Int64) -> [UInt8] {
        var record = header(kind: Int32(CPERFPROBE_SWITCH_STACK_RECORD), tid: 22, pid: 20, flags: flags, time: 777)
        record += bytes(kernelBytes) + bytes(userBytes)
        record += (0..<24).flatMap { bytes(UInt64(0x1000 + $0)) }
        record += (0..<Int(CPERFPROBE_SWITCH_KERNEL_FRAMES)).flatMap { bytes(UInt64(0xffff_ffff_8100_0000) + UInt64($0)) }
        record += (0..<Int(CPERFPROBE_SWITCH_USER_STACK)).map { UInt8(truncatingIfNeeded: $0) }
        return record
    }

    @Test func stackRecordsBecomeSamples() {
        let record = Self.stackRecord(flags: 0, kernelBytes: 16, userBytes: 24)
        #expect(record.count == Int(CPERFPROBE_SWITCH_STACK_BYTES))
        guard case .stacks(let sample)? = SwitchRecord.parse(record) else {
            Issue.record("not stacks")
            return
        }
        #expect(sample.tid == ThreadID(22) && sample.pid == ProcessID(20) && sample.time == 777)
        #expect(sample.callchain == [SampleRecord.contextKernel, 0xffff_ffff_8100_0000, 0xffff_ffff_8100_0001])
        #expect(sample.userRegisters.count == 24 && sample.userRegisters[7] == 0x1007 && sample.ip == 0x1008)
        #expect(sample.userStack == (0..<24).map { UInt8($0) })
        // Errors from the helpers (negative) give nothing; sizes past the
        // record's room are cut to it.
        guard case .stacks(let failed)? = SwitchRecord.parse(Self.stackRecord(flags: 0, kernelBytes: -14, userBytes: -14)),
              case .stacks(let huge)? = SwitchRecord.parse(Self.stackRecord(flags: 0, kernelBytes: 1 << 40, userBytes: Int64.max)) else {
            Issue.record("not stacks")
            return
        }
        #expect(failed.callchain == [SampleRecord.contextKernel] && failed.userStack.isEmpty && failed.userRegisters.isEmpty)
        #expect(huge.callchain.count == 1 + Int(CPERFPROBE_SWITCH_KERNEL_FRAMES) && huge.userStack.count == Int(CPERFPROBE_SWITCH_USER_STACK))
        // A frame-pointer record's user part is a chain of addresses.
        guard case .stacks(let chain)? = SwitchRecord.parse(Self.stackRecord(flags: 1, kernelBytes: 8, userBytes: 16)) else {
            Issue.record("not stacks")
            return
        }
        let user = Array(Self.stackRecord(flags: 1, kernelBytes: 8, userBytes: 16)[Int(CPERFPROBE_SWITCH_USER_OFFSET)...].prefix(16))
        let words = [0, 8].map { offset in user[offset..<offset + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        #expect(chain.callchain == [SampleRecord.contextKernel, 0xffff_ffff_8100_0000, SampleRecord.contextUser] + words)
        #expect(chain.userStack.isEmpty)
        #expect(SwitchRecord.parse(Array(record.dropLast())) == nil)
    }
}
