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
    /// When reading for some addresses only (sorted): per address, the
    /// highest symbol at or below it and above the address before it.
    private var wanted: [UInt64]?
    private var nearest: [(address: UInt64, name: [UInt8])?] = []

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

    /// Only the symbols holding `addresses`, read in one pass over
    /// /proc/kallsyms: what one profile needs, without the 100k+ names
    /// (several MiB) of the whole table. Answers for those addresses only.
    static func read(covering addresses: some Sequence<UInt64>, path: String = "/proc/kallsyms") -> KernelSymbols {
        var table = KernelSymbols(covering: addresses)
        try? Syscalls.readChunks(path) { table.consume($0) }
        table.finish()
        return table
    }

    /// `text` parsed for `addresses` only (as `read(covering:)`).
    init(_ text: [UInt8], covering addresses: some Sequence<UInt64>) {
        self.init(covering: addresses)
        consume(text[...])
        finish()
    }

    private init(covering addresses: some Sequence<UInt64>) {
        wanted = Set(addresses).sorted()
        nearest = Array(repeating: nil, count: wanted?.count ?? 0)
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
        if wanted != nil {
            // A wanted address with no symbol in its own stretch is held by
            // the one found for an earlier address: `lookup` takes the last
            // symbol at or below, which is then that one.
            for case let (address, name)? in nearest { add(address, name: name[...]) }
            wanted = nil
            nearest = []
        }
        entries.sort { $0.address < $1.address }
    }

    private mutating func add(_ address: UInt64, name: ArraySlice<UInt8>) {
        entries.append(Entry(address: address, nameStart: UInt32(text.count), nameLength: UInt16(min(name.count, 0xffff))))
        text += name.prefix(0xffff)
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
        guard let wanted else { return add(address, name: line[nameStart..<nameEnd]) }
        // The first wanted address at or above this symbol: the symbol lies
        // between it and the wanted address before it.
        var low = 0, high = wanted.count
        while low < high {
            let middle = (low + high) / 2
            if wanted[middle] < address { low = middle + 1 } else { high = middle }
        }
        // At an address with aliases, the last listed, as in the whole table.
        guard low < wanted.count, address >= nearest[low]?.address ?? 0 else { return }
        nearest[low] = (address, Array(line[nameStart..<nameEnd]))
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
