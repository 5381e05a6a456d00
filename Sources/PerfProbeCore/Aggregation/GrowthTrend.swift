/// How a quantity (memory, a stack's outstanding bytes) trends over a run: a
/// line fitted after a warm-up of 1 s or 10% of the run, whichever is longer,
/// and another over the last 40%, which tells growth that continues from
/// growth that has levelled off.
public struct GrowthTrend: Hashable, Sendable {
    public var warmupSeconds: Double
    public var fit: LinearFit
    public var finalFit: LinearFit
    /// The first and largest values after the warm-up.
    public var start: Double
    public var peak: Double

    /// Nil when fewer than 10 points follow the warm-up (or 4 the final stretch).
    public init?(_ points: [(t: Double, value: Double)]) {
        let end = points.last?.t ?? 0
        let warmup = max(1.0, 0.1 * end)
        let settled = points.filter { $0.t >= warmup }
        let final = settled.filter { $0.t >= end - 0.4 * (end - warmup) }
        guard settled.count >= 10, final.count >= 4,
              let fit = LinearFit(x: settled.map(\.t), y: settled.map(\.value)),
              let finalFit = LinearFit(x: final.map(\.t), y: final.map(\.value)) else { return nil }
        warmupSeconds = warmup
        self.fit = fit
        self.finalFit = finalFit
        start = settled[0].value
        peak = settled.map(\.value).max() ?? start
    }

    /// Growing at `minimumRate` or more, steadily (R² ≥ 0.6), with the
    /// slope's 95% lower bound past the rate too, and still at the end.
    public func isGrowing(minimumRate: Double) -> Bool {
        fit.slope >= minimumRate && (fit.slopeInterval?.low ?? fit.slope) >= minimumRate
            && finalFit.slope >= minimumRate && fit.rSquared >= 0.6
    }
}
