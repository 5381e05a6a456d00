/// A frame's code location as source: the chain of functions inlined at
/// its address, each with its file and line, over the function the symbol
/// table names.
public struct SymbolizedLocation: Hashable, Sendable {
    public struct Level: Hashable, Sendable {
        public var frame: SymbolizedFrame
        public var file: String?
        public var line: Int?

        /// File names come from the target's DWARF: sanitized like names.
        init(frame: SymbolizedFrame, file: String?, line: Int?) {
            self.frame = frame
            self.file = file.map(SymbolName.sanitized)
            self.line = line
        }
    }

    /// As pprof wants it: the virtual address within the module's file (the
    /// module as if loaded at its link address); the absolute address for
    /// kernel, JIT and unknown frames.
    public var address: UInt64
    /// Innermost first; the last is the frame's own function (never inlined).
    public var levels: [Level]
}
