/// A CI gate that failed: which, its threshold and what was measured.
public struct TrippedGate: Codable, Hashable, Sendable {
    /// The option that set it, e.g. `--max-cpu`.
    public var gate: String
    public var threshold: String
    public var measured: String
    /// One line for stderr and the results files.
    public var message: String
}
