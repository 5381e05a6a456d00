/// How to sample: what the CLI's sampling options become.
public struct SamplerConfiguration: Sendable {
    public var scope: SamplingScope
    public var event: SamplingEvent
    public var frequency: Int
    public var includeKernel: Bool
    /// Data pages per CPU ring (a power of two).
    public var ringPages: Int
    public var telemetryIntervalNanoseconds: UInt64

    public init(scope: SamplingScope, event: SamplingEvent = .cpuClock, frequency: Int = 99, includeKernel: Bool = true,
                ringPages: Int = 128, telemetryIntervalNanoseconds: UInt64 = 100_000_000) {
        self.scope = scope
        self.event = event
        self.frequency = frequency
        self.includeKernel = includeKernel
        self.ringPages = ringPages
        self.telemetryIntervalNanoseconds = telemetryIntervalNanoseconds
    }
}
