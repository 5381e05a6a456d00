/// How user stacks are walked.
public enum UnwindMode: String, CaseIterable, Codable, Sendable {
    /// DWARF CFI over the copied user stack; where the copy ends, continue
    /// along the kernel's frame-pointer chain when it agrees.
    case auto
    /// DWARF CFI over the copied user stack only.
    case dwarf
    /// The kernel's frame-pointer walk: cheapest, but cut short by code
    /// built without frame pointers.
    case fp
}
