/// Kernel function symbols from /proc/kallsyms, kept compact: the file's
/// bytes plus a sorted index of (address, name position), since it has 100k+
/// lines and a profile names a few dozen of them.
struct KernelSymbols: Sendable {
    /// The running kernel's, read once per process: a sidecar symbolizes
    /// every window, and kallsyms takes a good part of a second to parse.
    static let running = read()

    private struct Entry: Sendable {
        var address: UInt64
        var nameStart: UInt32
        var nameLength: UInt16
    }

    /// The kept names, back to back.
    private var text: [UInt8] = []
    private var entries: [Entry] = []
    /// A line cut by the end of the previous chunk.
    private var partial: [UInt8] = []

    var isEmpty: Bool { entries.isEmpty }

    /// Parses kallsyms text ("ffffffff81000000 T _stext\t[module]" lines),
    /// keeping text symbols. All-zero addresses (kptr_restrict) yield an empty table.
    init(_ text: [UInt8]) {
        consume(text[...])
        finish()
    }

    /// Reads /proc/kallsyms in chunks, so the 5 MB file is never held whole.
    static func read(_ path: String = "/proc/kallsyms") -> KernelSymbols {
        var table = KernelSymbols()
        try? Syscalls.readChunks(path) { table.consume($0) }
        table.finish()
        return table
    }

    private init() {}

    private mutating func consume(_ chunk: ArraySlice<UInt8>) {
        var lineStart = chunk.startIndex
        while let newline = chunk[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            if partial.isEmpty {
                parseLine(chunk[lineStart..<newline])
            } else {
                partial += chunk[lineStart..<newline]
                parseLine(partial[...])
                partial = []
            }
            lineStart = newline + 1
        }
        partial += chunk[lineStart...]
    }

    private mutating func finish() {
        if !partial.isEmpty { parseLine(partial[...]) }
        partial = []
        entries.sort { $0.address < $1.address }
    }

    /// "ffffffff81000000 T name[\t[module]]"
    private mutating func parseLine(_ line: ArraySlice<UInt8>) {
        var i = line.startIndex
        var address: UInt64 = 0
        while i < line.endIndex, let digit = Self.hexValue(line[i]) {
            address = address << 4 | UInt64(digit)
            i += 1
        }
        guard address != 0, i + 3 < line.endIndex, "tTwW".utf8.contains(line[i + 1]) else { return }
        let nameStart = i + 3
        let nameEnd = line[nameStart...].firstIndex { $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: " ") } ?? line.endIndex
        guard nameEnd > nameStart else { return }
        entries.append(Entry(address: address, nameStart: UInt32(text.count), nameLength: UInt16(min(nameEnd - nameStart, 0xffff))))
        text += line[nameStart..<nameEnd]
    }

    /// The function containing `address`: the last symbol at or below it.
    func lookup(_ address: UInt64) -> String? {
        guard let entry = entries.last(atOrBelow: address, by: \.address) else { return nil }
        let start = Int(entry.nameStart)
        return String(decoding: text[start..<start + Int(entry.nameLength)], as: UTF8.self)
    }

    /// Where the function containing `address` starts.
    func start(of address: UInt64) -> UInt64? {
        entries.last(atOrBelow: address, by: \.address)?.address
    }

    var names: [String] { entries.indices.map { lookup(entries[$0].address) ?? "" } }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
