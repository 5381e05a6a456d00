/// Ordinary least squares of y on x: a slope and how well a line explains the data.
public struct LinearFit: Hashable, Sendable {
    public var slope: Double
    public var intercept: Double
    /// Coefficient of determination, 0…1 (1 when y does not vary at all).
    public var rSquared: Double
    /// The slope's standard error from the residuals (nil for two points).
    public var slopeStandardError: Double?
    public var pointCount: Int
    /// The x values' range.
    public var span: Double

    /// The slope's 95% interval (Student's t with n − 2 degrees of freedom).
    /// Points of a cumulative series are not independent: the interval is
    /// narrower than the truth, so a bound it fails is failed for sure.
    public var slopeInterval: ConfidenceInterval? {
        slopeStandardError.map {
            let half = Statistics.tQuantile(0.975, degreesOfFreedom: Double(pointCount - 2)) * $0
            return ConfidenceInterval(low: slope - half, high: slope + half)
        }
    }

    /// Nil with fewer than two distinct x values.
    public init?(x: [Double], y: [Double]) {
        let n = Double(min(x.count, y.count))
        guard n >= 2 else { return nil }
        let meanX = x.prefix(Int(n)).reduce(0, +) / n
        let meanY = y.prefix(Int(n)).reduce(0, +) / n
        var sxx = 0.0, sxy = 0.0, syy = 0.0
        for (a, b) in zip(x, y) {
            sxx += (a - meanX) * (a - meanX)
            sxy += (a - meanX) * (b - meanY)
            syy += (b - meanY) * (b - meanY)
        }
        guard sxx > 0 else { return nil }
        slope = sxy / sxx
        intercept = meanY - slope * meanX
        rSquared = syy == 0 ? 1 : (sxy * sxy) / (sxx * syy)
        pointCount = Int(n)
        span = (x.prefix(Int(n)).max() ?? 0) - (x.prefix(Int(n)).min() ?? 0)
        slopeStandardError = n > 2 ? (max(0, syy - slope * sxy) / (n - 2) / sxx).squareRoot() : nil
    }
}
