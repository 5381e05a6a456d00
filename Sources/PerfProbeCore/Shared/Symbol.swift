/// A named address range as a symbol table or a perf map lists it.
public struct Symbol: Hashable, Sendable {
    public var address: UInt64
    /// 0 when the symbol table gives none: it then ends at the next symbol.
    public var size: UInt64
    public var name: String

    public init(address: UInt64, size: UInt64, name: String) {
        self.address = address
        self.size = size
        self.name = name
    }
}
