import CPerfProbe

/// The `sample_type` bits perfprobe asks for, which fix the byte layout of
/// every PERF_RECORD_SAMPLE and of the sample_id trailer of other records.
public struct SampleLayout: Hashable, Sendable {
    /// PERF_SAMPLE_IP | TID | TIME | CPU | PERIOD | CALLCHAIN
    public static let callchain = SampleLayout(sampleType:
        UInt64(PERF_SAMPLE_IP.rawValue) | UInt64(PERF_SAMPLE_TID.rawValue) | UInt64(PERF_SAMPLE_TIME.rawValue)
        | UInt64(PERF_SAMPLE_CPU.rawValue) | UInt64(PERF_SAMPLE_PERIOD.rawValue) | UInt64(PERF_SAMPLE_CALLCHAIN.rawValue))

    public let sampleType: UInt64

    /// Size of the sample_id trailer (sample_id_all) given `sampleType`:
    /// TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER, 8 bytes each when present.
    var sampleIDTrailerSize: Int {
        let fields: [perf_event_sample_format] = [PERF_SAMPLE_TID, PERF_SAMPLE_TIME, PERF_SAMPLE_ID,
                                                  PERF_SAMPLE_STREAM_ID, PERF_SAMPLE_CPU, PERF_SAMPLE_IDENTIFIER]
        return fields.filter { has($0) }.count * 8
    }

    func has(_ bit: perf_event_sample_format) -> Bool { sampleType & UInt64(bit.rawValue) != 0 }
}
