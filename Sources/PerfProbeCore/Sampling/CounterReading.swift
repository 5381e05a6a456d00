/// A whole-run count of one perf counter.
public struct CounterReading: Codable, Hashable, Sendable {
    public var name: String
    /// Nil when the machine does not support the counter (not zero: unknown).
    public var value: UInt64?
    public var supported: Bool
    /// True when the kernel multiplexed the counter and the value is scaled up
    /// from the fraction of time it ran.
    public var scaled: Bool
    /// Why there is no value when the machine does support it ("permission denied").
    public var unavailable: String? = nil
    /// True when kernel counting was refused and the value is user space only.
    public var userOnly: Bool? = nil

    public init(name: String, value: UInt64?, supported: Bool, scaled: Bool) {
        self.name = name
        self.value = value
        self.supported = supported
        self.scaled = scaled
    }
}
