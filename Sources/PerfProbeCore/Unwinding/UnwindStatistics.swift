/// How the samples' user stacks were walked: a capture's part.
public struct UnwindStatistics: CapturePart {
    public var outcomes: [UnwindOutcome: Int] = [:]
    /// Time spent unwinding, all samples together.
    public var nanoseconds: UInt64 = 0
    /// Modules a stack passed through whose unwind tables were missing.
    public var modulesWithoutUnwindInfo: [String] = []

    public mutating func absorb(_ later: UnwindStatistics) {
        outcomes.merge(later.outcomes, uniquingKeysWith: +)
        nanoseconds += later.nanoseconds
        modulesWithoutUnwindInfo = later.modulesWithoutUnwindInfo
    }
}

extension Capture {
    public var unwinding: UnwindStatistics {
        get { self[UnwindStatistics.self] ?? UnwindStatistics() }
        set { self[UnwindStatistics.self] = newValue }
    }
}
