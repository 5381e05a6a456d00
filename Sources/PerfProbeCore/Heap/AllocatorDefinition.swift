/// An allocator `attach --heap` can probe, as described by a definition file
/// in probes/allocators (see glibc.alloc for the format): which library it
/// lives in, and for each function its role and which registers hold its
/// arguments. Users add allocators by adding files, without rebuilding.
public struct AllocatorDefinition: Hashable, Sendable {
    /// A System V x86-64 argument register (or the return value).
    public enum Register: String, Hashable, Sendable, CaseIterable {
        case rdi, rsi, rdx, rcx, r8, r9, rax

        /// Index in PERF_REG_X86_* order, as sampled user registers are stored.
        public var perfIndex: Int {
            switch self {
            case .rax: 0
            case .rcx: 2
            case .rdx: 3
            case .rsi: 4
            case .rdi: 5
            case .r8: 16
            case .r9: 17
            }
        }
    }

    public enum Role: String, Hashable, Sendable {
        /// Returns a new block.
        case alloc
        /// Returns a new block and frees `pointer` (which may be the same block).
        case realloc
        /// Frees `pointer`.
        case free
    }

    public struct Function: Hashable, Sendable {
        public var symbol: String
        public var role: Role
        /// The registers whose product is the requested size.
        public var size: [Register]
        /// The block freed.
        public var pointer: Register?
        /// Where the new block's address is written, when the return value is a status.
        public var out: Register?
    }

    public var name: String
    /// Prefixes of the file names (not paths) of the library that holds it.
    public var libraries: [String]
    public var functions: [Function]

    /// Whether a mapped file at `path` is this allocator's library.
    public func matches(path: String) -> Bool {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return libraries.contains { file.hasPrefix($0) }
    }

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        /// Line 0: the file as a whole.
        public var description: String { line > 0 ? "line \(line): \(message)" : message }
    }

    /// Parses a definition file's text. Pure.
    public static func parse(_ text: String) throws(ParseError) -> AllocatorDefinition {
        var name: String?
        var libraries: [String] = []
        var functions: [Function] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let directive = words.first else { continue }
            let fail = { (message: String) in ParseError(line: number + 1, message: message) }
            switch directive {
            case "allocator":
                guard words.count == 2 else { throw fail("'allocator' takes one name") }
                name = words[1]
            case "library":
                guard words.count == 2 else { throw fail("'library' takes one file name prefix") }
                libraries.append(words[1])
            default:
                guard let role = Role(rawValue: directive) else {
                    throw fail("unknown directive '\(directive)' (allocator, library, alloc, realloc or free)")
                }
                guard words.count >= 2 else { throw fail("'\(directive)' needs a symbol name") }
                var function = Function(symbol: words[1], role: role, size: [], pointer: nil, out: nil)
                for argument in words.dropFirst(2) {
                    let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw fail("'\(argument)' is not KEY=REGISTER") }
                    let registers = try parts[1].split(separator: "*").map { (word: Substring) throws(ParseError) -> Register in
                        guard let register = Register(rawValue: String(word)), register != .rax else {
                            throw fail("'\(word)' is not an argument register (rdi rsi rdx rcx r8 r9)")
                        }
                        return register
                    }
                    switch parts[0] {
                    case "size": function.size = registers
                    case "ptr" where registers.count == 1: function.pointer = registers[0]
                    case "out" where registers.count == 1: function.out = registers[0]
                    default: throw fail("unknown argument '\(argument)' (size=, ptr=, out=)")
                    }
                }
                switch role {
                case .alloc where function.size.isEmpty, .realloc where function.size.isEmpty:
                    throw fail("'\(function.symbol)' needs size=")
                case .free where function.pointer == nil, .realloc where function.pointer == nil:
                    throw fail("'\(function.symbol)' needs ptr=")
                default:
                    break
                }
                functions.append(function)
            }
        }
        guard let name else { throw ParseError(line: 0, message: "no 'allocator' line") }
        guard !libraries.isEmpty else { throw ParseError(line: 0, message: "no 'library' line") }
        guard !functions.isEmpty else { throw ParseError(line: 0, message: "no functions") }
        return AllocatorDefinition(name: name, libraries: libraries, functions: functions)
    }
}
