import FoundationEssentials

/// wall.folded (--off-cpu): each thread's time on and off the CPU together,
/// in microseconds — CPU samples times the sampling period, blocked
/// intervals ending in a `[off-CPU: REASON]` frame — so a thread's lines
/// add up to its life in the window.
public struct WallFoldedFormat: ReportFormat {
    public let fileName = "wall.folded"
    public let name = "wall-folded"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        guard let offCPU = report.offCpu else { return nil }
        let names = report.threadNames
        let period = 1 / Double(max(report.sampling.frequencyHz, 1))
        var lines = FoldedLines()
        for stack in report.profile.stacks {
            lines.add(thread: names[stack.tid] ?? "?", frames: stack.frames.map { report.profile.functions[$0] },
                      weight: OffCPUFoldedFormat.microseconds(Double(stack.count) * period))
        }
        for stack in offCPU.stacks {
            lines.add(thread: names[stack.tid] ?? "?", frames: stack.frames.map { offCPU.functions[$0] }, leaf: "[off-CPU: \(stack.reason)]",
                      weight: OffCPUFoldedFormat.microseconds(stack.blockedSeconds))
        }
        return Data(lines.text.utf8)
    }
}
