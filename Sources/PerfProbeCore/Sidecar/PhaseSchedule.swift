/// Load phases by time: `--phases FILE`, one `NAME OFFSET_SECONDS` per line
/// ('#' comments), e.g. `warmup 0`, `peak 60`. Pure.
public struct PhaseSchedule: Hashable, Sendable {
    public var entries: [(name: String, offset: Double)] { zip(names, offsets).map { ($0, $1) } }
    private var names: [String]
    private var offsets: [Double]

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public static func parse(_ text: String) throws(ParseError) -> PhaseSchedule {
        var names: [String] = [], offsets: [Double] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").split(separator: " ")
            if words.isEmpty { continue }
            guard words.count == 2, let offset = Double(words[1]), offset >= 0 else {
                throw ParseError(line: number + 1, message: "expected NAME OFFSET_SECONDS")
            }
            guard isValidName(String(words[0])) else { throw ParseError(line: number + 1, message: "'\(words[0])' is not a phase name (letters, digits, _ . -)") }
            guard offsets.last.map({ offset > $0 }) ?? true else { throw ParseError(line: number + 1, message: "offsets must increase") }
            names.append(String(words[0]))
            offsets.append(offset)
        }
        return PhaseSchedule(names: names, offsets: offsets)
    }

    /// The phase scheduled at `seconds` from the start, if any has begun.
    public func phase(at seconds: Double) -> String? {
        offsets.lastIndex { $0 <= seconds }.map { names[$0] }
    }

    /// 1–64 letters, digits, `_`, `.` or `-`: safe as a label and a folder name.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name != "." && name != ".."
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }
}
