/// Aggregated, symbolized stacks: each unique (thread, stack) once with its
/// sample count, frames as indices into `functions`.
public struct Profile: Codable, Sendable {
    public struct Stack: Codable, Hashable, Sendable {
        public var pid: ProcessID
        public var tid: ThreadID
        /// Indices into `functions`, leaf first.
        public var frames: [Int]
        public var count: Int
    }

    public var functions: [SymbolizedFrame]
    public var stacks: [Stack]

    public var totalSamples: Int { stacks.reduce(0) { $0 + $1.count } }

    /// Functions by name and module, each unique frame symbolized once:
    /// frames that name the same function share an index.
    struct FunctionTable {
        private(set) var functions: [SymbolizedFrame] = []
        private var functionIndex: [SymbolizedFrame: Int] = [:]
        private var frameIndex: [Frame: Int] = [:]

        mutating func index(of frame: Frame, symbolizer: inout Symbolizer) -> Int {
            if let known = frameIndex[frame] { return known }
            let symbol = symbolizer.symbolize(frame)
            let index: Int
            if let existing = functionIndex[symbol] {
                index = existing
            } else {
                index = functions.count
                functions.append(symbol)
                functionIndex[symbol] = index
            }
            frameIndex[frame] = index
            return index
        }
    }

    /// Symbolizes every unique frame of `capture` once and merges frames
    /// that name the same function.
    public static func build(from capture: Capture, symbolizer: inout Symbolizer) -> Profile {
        var table = FunctionTable()
        var merged: [Stack: Int] = [:]
        for (key, count) in capture.stacks {
            let stack = Stack(pid: key.pid, tid: key.tid, frames: key.frames.map { table.index(of: $0, symbolizer: &symbolizer) }, count: 0)
            merged[stack, default: 0] += count
        }
        let stacks = merged.map { stack, count in
            var stack = stack
            stack.count = count
            return stack
        }.sorted { ($0.count, $1.frames.count) > ($1.count, $0.frames.count) }
        return Profile(functions: table.functions, stacks: stacks)
    }
}
