/// Whether a process's anonymous memory grows, from its timeline: a line
/// fitted after a warm-up, and the slope of the last stretch, so that memory
/// that grew and then levelled off (a cache, a pool) is told apart from memory
/// that keeps growing. A bounded working set, however large, is not a leak.
public struct MemoryGrowth: Codable, Hashable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        /// Still growing at the end: a leak is suspected.
        case growing
        /// Grew, then levelled off.
        case plateau
        /// Did not grow.
        case stable
        /// Too short a timeline to tell.
        case unknown
    }

    public var verdict: Verdict
    /// Slope of anonymous memory after the warm-up, bytes per second.
    public var slopeBytesPerSecond: Double
    public var rSquared: Double
    /// Slope over the last 40% of the timeline.
    public var finalSlopeBytesPerSecond: Double
    public var warmupSeconds: Double
    /// Anonymous memory after the warm-up and at the end.
    public var startBytes: UInt64
    public var endBytes: UInt64

    /// Fits `timeline` (see `GrowthTrend`).
    public static func analyze(_ timeline: [MemoryPoint]) -> MemoryGrowth {
        guard let trend = GrowthTrend(timeline.map { ($0.t, Double($0.anonymousBytes)) }) else {
            return MemoryGrowth(verdict: .unknown, slopeBytesPerSecond: 0, rSquared: 0, finalSlopeBytesPerSecond: 0,
                                warmupSeconds: max(1.0, 0.1 * (timeline.last?.t ?? 0)),
                                startBytes: timeline.first?.anonymousBytes ?? 0, endBytes: timeline.last?.anonymousBytes ?? 0)
        }
        let grew = trend.peak > trend.start && trend.peak - trend.start >= max(Double(GrowthThreshold.minimumGrowth), trend.start / 10)
        let verdict: Verdict
        if trend.isGrowing(minimumRate: GrowthThreshold.minimumRate) && grew {
            verdict = .growing
        } else if grew && trend.finalFit.slope < GrowthThreshold.minimumRate {
            verdict = .plateau
        } else {
            verdict = .stable
        }
        return MemoryGrowth(verdict: verdict, slopeBytesPerSecond: trend.fit.slope, rSquared: trend.fit.rSquared,
                            finalSlopeBytesPerSecond: trend.finalFit.slope, warmupSeconds: trend.warmupSeconds,
                            startBytes: UInt64(trend.start), endBytes: timeline.last?.anonymousBytes ?? 0)
    }
}
