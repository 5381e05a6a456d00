/// A frame as people read it: function and module names.
public struct SymbolizedFrame: Hashable, Sendable, Codable {
    public var function: String
    /// The module's file name (`libc.so.6`), `[kernel]` or `[unknown]`.
    public var module: String
    public var kernel: Bool
    /// False when no symbol covered the address and `function` is `module+0xOFFSET`.
    public var symbolized: Bool

    /// Names are sanitized here, where they enter the report model.
    public init(function: String, module: String, kernel: Bool, symbolized: Bool) {
        self.function = SymbolName.sanitized(function)
        self.module = SymbolName.sanitized(module)
        self.kernel = kernel
        self.symbolized = symbolized
    }
}
