/// Brendan Gregg's collapsed stacks: one line per unique stack, the thread
/// name then frames root first, `;`-separated, a space and the weight.
/// Kernel frames end in `_[k]`, as stackcollapse-perf marks them.
struct FoldedLines {
    private var weights: [String: Int] = [:]

    /// `frames` leaf first; `leaf`: a last pseudo-frame (e.g. why a thread waited).
    mutating func add(thread: String, frames: [SymbolizedFrame], leaf: String? = nil, weight: Int) {
        var line = [Self.clean(thread)]
        line.reserveCapacity(frames.count + 2)
        for frame in frames.reversed() { line.append(Self.clean(frame.function) + (frame.kernel ? "_[k]" : "")) }
        if let leaf { line.append(Self.clean(leaf)) }
        weights[line.joined(separator: ";"), default: 0] += weight
    }

    var text: String {
        weights.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
    }

    /// A frame may not contain the separator, nor end the line early (by
    /// scalars: "\r\n" is one Character).
    static func clean(_ name: String) -> String {
        var scalars = SymbolName.sanitized(name).unicodeScalars
        scalars.indices.filter { scalars[$0] == ";" }.reversed().forEach { scalars.replaceSubrange($0...$0, with: [":"]) }
        return String(scalars)
    }
}
