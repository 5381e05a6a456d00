/// What the user asked for, independent of run or attach.
public struct ProfileOptions: Sendable {
    public var event: SamplingEvent
    public var frequency: Int
    public var duration: Double?
    public var includeKernel: Bool
    public var perThread: Bool

    public init(event: SamplingEvent = .cpuClock, frequency: Int = 99, duration: Double? = nil,
                includeKernel: Bool = true, perThread: Bool = false) {
        self.event = event
        self.frequency = frequency
        self.duration = duration
        self.includeKernel = includeKernel
        self.perThread = perThread
    }

    func configuration(for scope: SamplingScope) -> SamplerConfiguration {
        SamplerConfiguration(scope: scope, event: event, frequency: frequency, includeKernel: includeKernel)
    }
}
