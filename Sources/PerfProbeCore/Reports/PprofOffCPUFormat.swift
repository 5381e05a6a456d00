import FoundationEssentials

/// offcpu.pb.gz (--off-cpu): where threads waited, as a pprof profile —
/// sample types switches/count and off_cpu/nanoseconds, each sample
/// labelled with its thread and the reason it waited.
public struct PprofOffCPUFormat: ReportFormat {
    public let fileName = "offcpu.pb.gz"
    public let name = "offcpu-pprof"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        guard let offCPU = report.offCpu else { return nil }
        var builder = PprofBuilder(report: report, sampleTypes: [("switches", "count"), ("off_cpu", "nanoseconds")],
                                   period: ("off_cpu", "nanoseconds", 1))
        let names = report.threadNames
        for stack in offCPU.stacks {
            let locations = stack.frames.map { index in
                let frame = offCPU.functions[index]
                return builder.location(function: frame.function, module: frame.module, symbolized: frame.symbolized)
            }
            builder.add(locations: locations, values: [Int64(stack.switches), Int64(exactly: (stack.blockedSeconds * 1e9).rounded()) ?? .max],
                        labels: [("thread", names[stack.tid] ?? "?", nil), ("tid", nil, Int64(stack.tid.rawValue)),
                                 ("reason", stack.reason, nil)])
        }
        return try builder.gzipped(defaultSampleType: "off_cpu")
    }
}
