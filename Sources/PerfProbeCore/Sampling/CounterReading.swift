/// A whole-run count of one perf counter.
public struct CounterReading: Codable, Hashable, Sendable {
    public var name: String
    /// Nil when the machine does not support the counter (not zero: unknown).
    public var value: UInt64?
    public var supported: Bool
    /// True when the kernel multiplexed the counter and the value is scaled up
    /// from the fraction of time it ran.
    public var scaled: Bool

    public init(name: String, value: UInt64?, supported: Bool, scaled: Bool) {
        self.name = name
        self.value = value
        self.supported = supported
        self.scaled = scaled
    }
}
