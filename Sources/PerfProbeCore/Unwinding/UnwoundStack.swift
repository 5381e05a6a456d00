/// A sample's stack as addresses to look up, leaf first: where the thread
/// was, then each caller's return address minus one, so that it falls inside
/// the call instruction and its function even when the call was the
/// function's last instruction.
public struct UnwoundStack: Hashable, Sendable {
    public var kernel: [UInt64]
    public var user: [UInt64]
    public var outcome: UnwindOutcome

    public init(kernel: [UInt64], user: [UInt64], outcome: UnwindOutcome) {
        self.kernel = kernel
        self.user = user
        self.outcome = outcome
    }
}

/// How a sample's user stack was walked, and how far it got.
public enum UnwindOutcome: String, Codable, Sendable, CaseIterable {
    /// DWARF unwinding reached the outermost frame (`_start`, `clone3`):
    /// the frame whose CFI says the stack ends there.
    case complete
    /// DWARF unwinding reached the end of the copied stack and continued along
    /// the kernel's frame-pointer chain, which agreed with it.
    case spliced
    /// DWARF unwinding reached the end of the copied stack.
    case truncated
    /// DWARF unwinding stopped: a module without unwind information, or CFI
    /// that led outside the copy.
    case failed
    /// The kernel's frame-pointer chain (`--unwind fp`, kernel threads, or
    /// where DWARF could not even start).
    case framePointer
}

/// Turns a sample into its stack, resolving code through the target's mappings.
public protocol Unwinder: ~Copyable {
    mutating func unwind(_ sample: SampleRecord, in spaces: inout AddressSpaces) -> UnwoundStack
}
