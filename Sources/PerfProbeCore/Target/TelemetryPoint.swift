/// One reading of a process's /proc counters, taken every 100 ms.
public struct TelemetryPoint: Codable, Hashable, Sendable {
    /// Seconds since sampling started.
    public var t: Double
    /// CPU used since the previous point, in % of one core.
    public var cpuUserPercent: Double
    public var cpuSystemPercent: Double
    public var threads: Int
    public var rssBytes: UInt64
    /// Cumulative counts, summed over the live threads of the process.
    public var voluntaryContextSwitches: UInt64
    public var involuntaryContextSwitches: UInt64
    /// Cumulative counts for the process.
    public var minorFaults: UInt64
    public var majorFaults: UInt64
    /// Cumulative bytes from /proc/PID/io; nil where the kernel does not expose it.
    public var readBytes: UInt64?
    public var writeBytes: UInt64?

}
