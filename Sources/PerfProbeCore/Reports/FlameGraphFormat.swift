import FoundationEssentials

/// flamegraph.svg: the CPU samples as a self-contained interactive flame graph.
public struct FlameGraphFormat: ReportFormat {
    public let fileName = "flamegraph.svg"
    public let name = "flamegraph"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        Data(Self.svg(report, standalone: true).utf8)
    }

    static func svg(_ report: ProfileReport, standalone: Bool) -> String {
        let title = "CPU: \(report.target.name) (pid \(report.target.pid)), \(report.profile.totalSamples) samples at \(report.sampling.frequencyHz) Hz"
        return FlameGraph(report, title: title).svg(standalone: standalone)
    }

    /// The differential flame graph of `perfprobe diff`: `new`'s stacks,
    /// coloured by how each path's share changed since `base`.
    /// Frames whose share changed significantly at `level` (two-proportion
    /// z-test of the path's samples, Holm-corrected over every path drawn)
    /// are red where they grew, blue where they shrank; the rest grey.
    public static func difference(base: ProfileReport, new: ProfileReport, level: Double = ProfileComparison.defaultLevel) -> Data {
        let graph = FlameGraph(new, title: "CPU: \(new.target.name) against the baseline (red grew, blue shrank, grey: not significant at \(level))")
        graph.compare(with: FlameGraph(base, title: ""), level: level)
        return Data(graph.svg().utf8)
    }
}
