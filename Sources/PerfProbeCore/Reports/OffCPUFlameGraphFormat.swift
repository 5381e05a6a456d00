import FoundationEssentials

/// offcpu.svg (--off-cpu): where threads waited, as a flame graph in cool
/// colours, widths in microseconds blocked.
public struct OffCPUFlameGraphFormat: ReportFormat {
    public let fileName = "offcpu.svg"
    public let name = "offcpu-flamegraph"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        guard let svg = Self.svg(report, standalone: true) else { return nil }
        return Data(svg.utf8)
    }

    static func svg(_ report: ProfileReport, standalone: Bool) -> String? {
        guard let offCPU = report.offCpu else { return nil }
        let blocked = offCPU.stacks.reduce(0) { $0 + $1.blockedSeconds }
        let title = String(printf: "Off-CPU: %@ (pid %d), %.2f s blocked in %d switches", report.target.name,
                           Int(report.target.pid.rawValue), blocked, offCPU.stacks.reduce(0) { $0 + $1.switches })
        let stacks = offCPU.stacks.map { ($0.tid, $0.frames, OffCPUFoldedFormat.microseconds($0.blockedSeconds)) }
        return FlameGraph(stacks: stacks, functions: offCPU.functions, threadNames: report.threadNames, title: title,
                          unit: "µs blocked", offCPU: true).svg(standalone: standalone)
    }
}
