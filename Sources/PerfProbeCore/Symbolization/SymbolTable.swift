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

    /// Adds `entries`, keeping the name already held at an address: a merge
    /// of two sorted runs (the symbolizer adds a profile's symbols in batches).
    public mutating func add(_ entries: [Symbol]) {
        let new = SymbolTable(entries).symbols
        var merged: [Symbol] = []
        merged.reserveCapacity(symbols.count + new.count)
        var old = 0, added = 0
        while old < symbols.count || added < new.count {
            if added == new.count || (old < symbols.count && symbols[old].address <= new[added].address) {
                if added < new.count && symbols[old].address == new[added].address { added += 1 }
                merged.append(symbols[old])
                old += 1
            } else {
                merged.append(new[added])
                added += 1
            }
        }
        symbols = merged
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
