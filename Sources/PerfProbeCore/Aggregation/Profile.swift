/// Aggregated, symbolized stacks: each unique (thread, stack of code
/// locations) once with its sample count. `frames` names the functions,
/// inlined ones included; `locations` keeps the addresses and lines.
public struct Profile: Codable, Sendable {
    public struct Stack: Codable, Hashable, Sendable {
        public var pid: ProcessID
        public var tid: ThreadID
        /// Indices into `functions`, leaf first: each location's inline
        /// chain, innermost first, then its callers'.
        public var frames: [Int]
        public var count: Int
        /// Indices into `locations`, leaf first, one per unwound frame (nil
        /// in reports of earlier versions).
        public var locations: [Int]? = nil
    }

    /// One code address of a module, as source.
    public struct Location: Codable, Hashable, Sendable {
        /// The module's name, as `SymbolizedFrame.module`.
        public var module: String
        /// See `SymbolizedLocation.address`.
        public var address: UInt64
        /// Innermost first; the last is the function the address is in,
        /// the others were inlined into it.
        public var lines: [Line]
    }

    public struct Line: Codable, Hashable, Sendable {
        /// Index into `functions`.
        public var function: Int
        public var file: String?
        public var line: Int?
    }

    public var functions: [SymbolizedFrame]
    public var stacks: [Stack]
    /// Every location the stacks hold (nil in reports of earlier versions).
    public var locations: [Location]? = nil

    public var totalSamples: Int { stacks.reduce(0) { $0 + $1.count } }

    /// For each of `stack.frames`, whether that function was inlined there.
    public func inlined(_ stack: Stack) -> [Bool] {
        guard let locations, let indices = stack.locations else { return stack.frames.map { _ in false } }
        return indices.flatMap { index in
            locations.indices.contains(index) ? locations[index].lines.indices.map { $0 < locations[index].lines.count - 1 } : []
        }
    }

    /// Functions by name and module, each unique frame located once:
    /// frames that name the same function share an index.
    struct FunctionTable {
        private(set) var functions: [SymbolizedFrame] = []
        private(set) var locations: [Location] = []
        private var functionIndex: [SymbolizedFrame: Int] = [:]
        private var locationIndex: [Frame: Int] = [:]

        mutating func index(of function: SymbolizedFrame) -> Int {
            if let existing = functionIndex[function] { return existing }
            functions.append(function)
            functionIndex[function] = functions.count - 1
            return functions.count - 1
        }

        /// The location of `frame`, its functions entered in the table.
        mutating func location(of frame: Frame, symbolizer: inout Symbolizer) -> Int {
            if let known = locationIndex[frame] { return known }
            let located = symbolizer.locate(frame)
            let lines = located.levels.map { Line(function: index(of: $0.frame), file: $0.file, line: $0.line) }
            locations.append(Location(module: located.levels.last?.frame.module ?? "[unknown]", address: located.address, lines: lines))
            locationIndex[frame] = locations.count - 1
            return locations.count - 1
        }

        /// The functions at `frame`: those inlined there, innermost first, then its own.
        mutating func chain(of frame: Frame, symbolizer: inout Symbolizer) -> [Int] {
            locations[location(of: frame, symbolizer: &symbolizer)].lines.map(\.function)
        }
    }

    /// Locates every unique frame of `capture` once; stacks whose frames are
    /// the same locations (a library two processes map) become one.
    public static func build(from capture: Capture, symbolizer: inout Symbolizer) -> Profile {
        var table = FunctionTable()
        var stacks: [Stack] = []
        var byKey: [Stack: Int] = [:]
        for (key, count) in capture.stacks {
            let locations = key.frames.map { table.location(of: $0, symbolizer: &symbolizer) }
            let stack = Stack(pid: key.pid, tid: key.tid, frames: [], count: 0, locations: locations)
            if let index = byKey[stack] {
                stacks[index].count += count
            } else {
                byKey[stack] = stacks.count
                stacks.append(stack)
                stacks[stacks.count - 1].count = count
            }
        }
        for index in stacks.indices {
            stacks[index].frames = (stacks[index].locations ?? []).flatMap { table.locations[$0].lines.map(\.function) }
        }
        stacks.sort { ($0.count, $1.frames.count) > ($1.count, $0.frames.count) }
        return Profile(functions: table.functions, stacks: stacks, locations: table.locations)
    }
}

/// A location's address is written in hex ("0x7f3a…"): JSON numbers lose
/// 64-bit addresses in most readers.
extension Profile.Location {
    private enum CodingKeys: String, CodingKey {
        case module, address, lines
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .address)
        guard text.hasPrefix("0x"), text.count <= 18, let address = UInt64(text.dropFirst(2), radix: 16) else {
            throw DecodingError.dataCorruptedError(forKey: .address, in: container, debugDescription: "not a hex address: \(text.prefix(40))")
        }
        self.init(module: try container.decode(String.self, forKey: .module), address: address,
                  lines: try container.decode([Profile.Line].self, forKey: .lines))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(module, forKey: .module)
        try container.encode("0x" + String(address, radix: 16), forKey: .address)
        try container.encode(lines, forKey: .lines)
    }
}
