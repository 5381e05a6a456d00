import FoundationEssentials

/// cpu.pb.gz: the CPU samples as a pprof profile — sample types
/// samples/count and cpu/nanoseconds, period one sampling interval, each
/// sample labelled with its thread; locations with addresses, lines and
/// inlined functions where the report has them.
public struct PprofCPUFormat: ReportFormat {
    public let fileName = "cpu.pb.gz"
    public let name = "pprof"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        let interval = Int64(1e9 / Double(max(report.sampling.frequencyHz, 1)))
        var builder = PprofBuilder(report: report, sampleTypes: [("samples", "count"), ("cpu", "nanoseconds")],
                                   period: ("cpu", "nanoseconds", interval))
        let names = report.threadNames
        for stack in report.profile.stacks {
            let locations = stack.locations.map { $0.map { builder.location($0, of: report.profile) } } ?? stack.frames.map { index in
                let frame = report.profile.functions[index]
                return builder.location(function: frame.function, module: frame.module, symbolized: frame.symbolized)
            }
            let (nanoseconds, overflow) = Int64(stack.count).multipliedReportingOverflow(by: interval)
            builder.add(locations: locations, values: [Int64(stack.count), overflow ? .max : nanoseconds],
                        labels: [("thread", names[stack.tid] ?? "?", nil), ("tid", nil, Int64(stack.tid.rawValue))])
        }
        return try builder.gzipped(defaultSampleType: "cpu")
    }
}
