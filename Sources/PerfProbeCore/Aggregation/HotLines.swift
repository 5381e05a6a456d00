/// The hottest source lines of a profile's top functions: where in a hot
/// function the samples fall, by the line table of each sampled address
/// (the innermost inlined level's line, so an inlined loop shows its own).
public struct HotLines: Codable, Sendable {
    public struct Line: Codable, Sendable {
        public var file: String
        public var line: Int
        public var selfSamples: Int
        public var selfPercent: Double
        /// The line as the source file on this machine has it, when it could be read.
        public var text: String?
    }

    public var function: String
    public var module: String
    public var lines: [Line]

    /// For each of the `functions` hottest by self time that has lines, its
    /// `perFunction` hottest. `text(file, line)` gives a line's source.
    static func rank(_ profile: Profile, functions: Int = 10, perFunction: Int = 6,
                     text: (String, Int) -> String?) -> [HotLines] {
        guard let locations = profile.locations else { return [] }
        var byFunction: [Int: [SourceKey: Int]] = [:]
        var selfCounts: [Int: Int] = [:]
        var total = 0
        for stack in profile.stacks {
            total += stack.count
            guard let leaf = stack.locations?.first, let innermost = locations[safe: leaf]?.lines.first else { continue }
            selfCounts[innermost.function, default: 0] += stack.count
            guard let file = innermost.file, let line = innermost.line else { continue }
            byFunction[innermost.function, default: [:]][SourceKey(file: file, line: line), default: 0] += stack.count
        }
        let top = byFunction.keys.sorted { (selfCounts[$0] ?? 0, $1) > (selfCounts[$1] ?? 0, $0) }.prefix(functions)
        return top.compactMap { index in
            guard let function = profile.functions[safe: index], let counts = byFunction[index] else { return nil }
            let lines = counts.sorted { ($0.value, $1.key.line) > ($1.value, $0.key.line) }.prefix(perFunction).map { key, count in
                Line(file: key.file, line: key.line, selfSamples: count, selfPercent: Double(count) * 100 / Double(max(total, 1)),
                     text: text(key.file, key.line))
            }
            return HotLines(function: function.function, module: function.module, lines: Array(lines))
        }
    }

    private struct SourceKey: Hashable {
        var file: String
        var line: Int
    }
}
