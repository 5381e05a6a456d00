import FoundationEssentials

/// cpu.folded: the CPU samples as collapsed stacks (`FoldedLines`), each
/// stack's weight its sample count.
public struct FoldedStacksFormat: ReportFormat {
    public let fileName = "cpu.folded"
    public let name = "folded"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        let names = report.threadNames
        var lines = FoldedLines()
        for stack in report.profile.stacks {
            lines.add(thread: names[stack.tid] ?? "?", frames: stack.frames.map { report.profile.functions[$0] }, weight: stack.count)
        }
        return Data(lines.text.utf8)
    }
}
