/// A module's function symbols sorted by address, looked up by binary search.
/// Pure value: built from (address, size, name) entries, however they were read.
public struct SymbolTable: Sendable {
    public private(set) var symbols: [Symbol]

    /// Sorts `entries` and keeps one name per address (the first given, so
    /// callers list preferred names — global before local — first).
    public init(_ entries: [Symbol]) {
        var seen = Set<UInt64>()
        symbols = entries.enumerated()
            .sorted { ($0.element.address, $0.offset) < ($1.element.address, $1.offset) }
            .map(\.element)
            .filter { seen.insert($0.address).inserted }
    }

    public var isEmpty: Bool { symbols.isEmpty }

    /// The function containing `address`, if any.
    public func lookup(_ address: UInt64) -> Symbol? {
        guard let symbol = symbols.last(atOrBelow: address, by: \.address) else { return nil }
        // Sizes are the file's (or a JIT's) numbers: compared by subtraction, which cannot wrap.
        if symbol.size > 0 { return address - symbol.address < symbol.size ? symbol : nil }
        // Unsized: it runs to the next symbol; the last one, not far past its start.
        return symbol.address != symbols.last?.address || address - symbol.address < 0x10000 ? symbol : nil
    }
}
