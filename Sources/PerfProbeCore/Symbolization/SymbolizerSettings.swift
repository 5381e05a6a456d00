/// How far the symbolizer goes beyond function names.
public struct SymbolizerSettings: Sendable {
    /// Demangle C++, Rust and Swift linker names.
    public var demangle = true
    /// Expand each frame into the functions inlined at its address (DWARF).
    public var inlines = true
    /// File and line of each frame (DWARF line tables).
    public var lines = true

    public init(demangle: Bool = true, inlines: Bool = true, lines: Bool = true) {
        self.demangle = demangle
        self.inlines = inlines
        self.lines = lines
    }

    /// Whether any DWARF is read.
    var readsDebugInfo: Bool { inlines || lines }
}
