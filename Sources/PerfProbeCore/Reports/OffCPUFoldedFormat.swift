import FoundationEssentials

/// offcpu.folded (--off-cpu): where threads waited, as collapsed stacks
/// (`FoldedLines`), each stack's weight the microseconds blocked there.
public struct OffCPUFoldedFormat: ReportFormat {
    public let fileName = "offcpu.folded"
    public let name = "offcpu-folded"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        guard let offCPU = report.offCpu else { return nil }
        let names = report.threadNames
        var lines = FoldedLines()
        for stack in offCPU.stacks {
            lines.add(thread: names[stack.tid] ?? "?", frames: stack.frames.map { offCPU.functions[$0] },
                      weight: Self.microseconds(stack.blockedSeconds))
        }
        return Data(lines.text.utf8)
    }

    static func microseconds(_ seconds: Double) -> Int {
        Int(exactly: (seconds * 1e6).rounded()) ?? 0
    }
}
