import FoundationEssentials

/// heap.pb.gz (with traced allocations): alloc_objects, alloc_space,
/// inuse_objects, inuse_space per allocating stack, as the bytes and objects
/// the samples stand for; the period is the sampling interval in bytes.
public struct PprofHeapFormat: ReportFormat {
    public let fileName = "heap.pb.gz"
    public let name = "pprof-heap"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        guard let heap = report.heap else { return nil }
        var builder = PprofBuilder(report: report,
                                   sampleTypes: [("alloc_objects", "count"), ("alloc_space", "bytes"),
                                                 ("inuse_objects", "count"), ("inuse_space", "bytes")],
                                   period: ("space", "bytes", Int64(clamping: heap.sampleBytes)))
        for stack in heap.stacks {
            // Stacks are root first; pprof wants the leaf first.
            let locations = zip(stack.functions, stack.modules).reversed().map { function, module in
                builder.location(function: function, module: module, symbolized: !function.contains("+0x"))
            }
            // Live objects estimated at the stack's mean allocation size.
            let meanSize = Double(stack.allocatedBytes) / max(stack.estimatedObjects, 1)
            let inuseObjects = meanSize > 0 ? Double(stack.outstandingBytes) / meanSize : 0
            builder.add(locations: locations, values: [Int64(clamping: stack.estimatedObjects), Int64(clamping: stack.allocatedBytes),
                                                       Int64(clamping: inuseObjects), Int64(clamping: stack.outstandingBytes)])
        }
        return try builder.gzipped(defaultSampleType: "inuse_space")
    }
}
