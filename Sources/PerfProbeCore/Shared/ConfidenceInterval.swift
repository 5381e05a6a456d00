/// A 95% confidence interval of an estimate, in the estimate's unit (a
/// share in percent, bytes a second, seconds).
public struct ConfidenceInterval: Codable, Hashable, Sendable {
    public var low: Double
    public var high: Double

    public init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }

    /// Wilson's score interval of `count` successes in `trials`, in percent:
    /// unlike the normal approximation it stays within 0…100 and keeps its
    /// coverage for shares near 0 or 100 and for few samples.
    public static func share(_ count: Int, of trials: Int) -> ConfidenceInterval? {
        guard trials > 0, count >= 0, count <= trials else { return nil }
        let n = Double(trials), p = Double(count) / n, z = Statistics.z95
        let denominator = 1 + z * z / n
        let centre = (p + z * z / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / denominator
        return ConfidenceInterval(low: max(0, centre - half) * 100, high: min(1, centre + half) * 100)
    }

    /// The interval of an estimate made of `count` samples, each event
    /// sampled with probability `probability` and weighted by its inverse
    /// (`value` = the weighted sum): its relative variance is (1 − p)/count.
    /// As p → 0, the score interval of a Poisson count; at p = 1 (every
    /// event seen) the estimate is exact. `inflation`: the estimate's
    /// variance over the count's (a least-squares slope of a Poisson count
    /// over a window has 1.2 × its relative variance).
    public static func sampled(_ value: Double, count: Int, probability: Double = 0, inflation: Double = 1) -> ConfidenceInterval {
        guard count > 0 else { return ConfidenceInterval(low: 0, high: 0) }
        let k = Double(count), z = Statistics.z95
        let half = z * (k + z * z / 4).squareRoot()
        let thinning = (max(0, 1 - min(max(probability, 0), 1)) * max(inflation, 0)).squareRoot()
        let ratio = { (bound: Double) in 1 + (bound / k - 1) * thinning }
        return ConfidenceInterval(low: max(0, ratio(k + z * z / 2 - half)) * value, high: ratio(k + z * z / 2 + half) * value)
    }

    /// The mean of `values` ± Student's t × its standard error (nil with
    /// fewer than two values).
    public static func mean(_ values: [Double]) -> ConfidenceInterval? {
        guard values.count >= 2 else { return nil }
        let mean = Statistics.mean(values)
        let half = Statistics.tQuantile(0.975, degreesOfFreedom: Double(values.count - 1))
            * Statistics.standardDeviation(values) / Double(values.count).squareRoot()
        return ConfidenceInterval(low: mean - half, high: mean + half)
    }

    public func contains(_ value: Double) -> Bool { low <= value && value <= high }

    /// "70.1% (95% CI 69.0–71.2%)"; the share alone without an interval.
    public static func citing(percent: Double, _ interval: ConfidenceInterval?) -> String {
        guard let interval else { return String(printf: "%.1f%%", percent) }
        return String(printf: "%.1f%% (95%% CI %.1f–%.1f%%)", percent, interval.low, interval.high)
    }

    /// "1.853 s (95% CI 1.840–1.866 s)".
    public func citing(seconds value: Double) -> String {
        String(printf: "%.3f s (95%% CI %.3f–%.3f s)", value, low, high)
    }
}
