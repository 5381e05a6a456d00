import FoundationEssentials

/// cpu.folded: Brendan Gregg's collapsed stacks — one line per unique stack,
/// the thread name then frames root first, `;`-separated, a space and the
/// count. Kernel frames end in `_[k]`, as stackcollapse-perf marks them.
public struct FoldedStacksFormat: ReportFormat {
    public let fileName = "cpu.folded"
    public let name = "folded"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        let names = Dictionary(report.threads.map { ($0.tid, $0.name) }, uniquingKeysWith: { a, _ in a })
        var lines: [String: Int] = [:]
        for stack in report.profile.stacks {
            var frames = [Self.clean(names[stack.tid] ?? "?")]
            for index in stack.frames.reversed() {
                let frame = report.profile.functions[index]
                frames.append(Self.clean(frame.function) + (frame.kernel ? "_[k]" : ""))
            }
            lines[frames.joined(separator: ";"), default: 0] += stack.count
        }
        let text = lines.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
        return Data(text.utf8)
    }

    /// A frame may not contain the separator, nor end the line early (by
    /// scalars: "\r\n" is one Character).
    static func clean(_ name: String) -> String {
        var scalars = SymbolName.sanitized(name).unicodeScalars
        scalars.indices.filter { scalars[$0] == ";" }.reversed().forEach { scalars.replaceSubrange($0...$0, with: [":"]) }
        return String(scalars)
    }
}
