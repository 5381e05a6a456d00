import CPerfProbe

/// The `sample_type` bits (and user register set) perfprobe asks for, which
/// fix the byte layout of every PERF_RECORD_SAMPLE and of the sample_id
/// trailer of other records.
public struct SampleLayout: Hashable, Sendable {
    /// PERF_SAMPLE_IDENTIFIER | IP | TID | TIME | CPU | PERIOD | CALLCHAIN.
    /// The identifier tells which event wrote a record (events of
    /// different layouts may share a ring).
    public static let callchain = SampleLayout(sampleType: baseType, userRegisterMask: 0, userStackSize: 0)

    /// The callchain, plus the user registers and a copy of `stackSize` bytes
    /// of user stack (PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER) for DWARF unwinding.
    public static func userStack(_ stackSize: UInt32) -> SampleLayout {
        SampleLayout(sampleType: baseType | UInt64(PERF_SAMPLE_REGS_USER.rawValue) | UInt64(PERF_SAMPLE_STACK_USER.rawValue),
                     userRegisterMask: x86GeneralPurposeRegisters, userStackSize: stackSize)
    }

    private static let baseType = UInt64(PERF_SAMPLE_IDENTIFIER.rawValue) | UInt64(PERF_SAMPLE_IP.rawValue) | UInt64(PERF_SAMPLE_TID.rawValue)
        | UInt64(PERF_SAMPLE_TIME.rawValue) | UInt64(PERF_SAMPLE_CPU.rawValue)
        | UInt64(PERF_SAMPLE_PERIOD.rawValue) | UInt64(PERF_SAMPLE_CALLCHAIN.rawValue)

    /// PERF_REG_X86_AX…IP (bits 0–8) and R8–R15 (bits 16–23): what CFI may name.
    static let x86GeneralPurposeRegisters: UInt64 = 0x1ff | 0xff << 16
    /// Registers are indexed by PERF_REG_X86_* up to R15.
    static let registerCount = 24

    public let sampleType: UInt64
    public let userRegisterMask: UInt64
    /// Bytes of user stack copied per sample (a multiple of 8).
    public let userStackSize: UInt32

    /// Size of the sample_id trailer (sample_id_all) given `sampleType`:
    /// TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER, 8 bytes each when present.
    var sampleIDTrailerSize: Int {
        let fields: [perf_event_sample_format] = [PERF_SAMPLE_TID, PERF_SAMPLE_TIME, PERF_SAMPLE_ID,
                                                  PERF_SAMPLE_STREAM_ID, PERF_SAMPLE_CPU, PERF_SAMPLE_IDENTIFIER]
        return fields.filter { has($0) }.count * 8
    }

    func has(_ bit: perf_event_sample_format) -> Bool { sampleType & UInt64(bit.rawValue) != 0 }
}
