/// `/tmp/perf-PID.map`, the symbol file JIT compilers (V8, the JVM with
/// perf-map-agent, .NET, LuaJIT) write: "START SIZE name" per line, in hex.
/// The target writes it, so every line is hostile input.
enum PerfMapFile {
    /// Complete lines of `bytes` (up to the last newline) as entries, in file
    /// order; also how many bytes those lines took. A CR before the newline
    /// is dropped; an entry of size 0 covers nothing and is skipped; a name
    /// is cut just past `SymbolName.maxBytes` (the sanitizer marks the cut).
    static func parseLines(_ bytes: ArraySlice<UInt8>) -> (entries: [Symbol], consumed: Int) {
        guard let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return ([], 0) }
        var entries: [Symbol] = []
        for var line in bytes[bytes.startIndex..<lastNewline].split(separator: UInt8(ascii: "\n")) {
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard let firstSpace = line.firstIndex(of: UInt8(ascii: " ")) else { continue }
            let rest = line[line.index(after: firstSpace)...]
            guard let secondSpace = rest.firstIndex(of: UInt8(ascii: " ")),
                  let start = hex(line[..<firstSpace]), let size = hex(rest[..<secondSpace]), size > 0 else { continue }
            let name = rest[rest.index(after: secondSpace)...].prefix(SymbolName.maxBytes + 1)
            entries.append(Symbol(address: start, size: size, name: String(decoding: name, as: UTF8.self)))
        }
        return (entries, lastNewline - bytes.startIndex + 1)
    }

    /// A table where the latest entry for an address wins: a JIT reuses
    /// addresses, and what it wrote last describes the code there now.
    static func table(_ entries: [Symbol]) -> SymbolTable {
        SymbolTable(entries.reversed())
    }

    /// Test convenience: a whole file's text.
    static func parse(_ text: String) -> SymbolTable {
        table(parseLines(ArraySlice(text.utf8)).entries)
    }

    /// Up to 16 hex digits, with or without "0x".
    private static func hex(_ field: ArraySlice<UInt8>) -> UInt64? {
        var digits = field
        if digits.starts(with: [UInt8(ascii: "0"), UInt8(ascii: "x")]) { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var value: UInt64 = 0
        for c in digits {
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}

/// What a process's perf map said while it ran: entries in file order
/// (the latest for an address wins) and whether reading stopped at the cap.
public struct PerfMap: Sendable {
    public var entries: [Symbol] = []
    public var truncated = false
}
