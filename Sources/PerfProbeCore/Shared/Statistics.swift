import Glibc

/// The tests and distributions perfprobe's verdicts rest on. Pure functions
/// of counts and measurements; every p-value is two-sided.
public enum Statistics {
    /// The normal quantile of 97.5%: two-sided 95% intervals.
    public static let z95 = 1.959963984540054

    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// The sample standard deviation (n − 1); 0 for fewer than two values.
    public static func standardDeviation(_ values: [Double]) -> Double {
        guard values.count >= 2 else { return 0 }
        let m = mean(values)
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// P(|Z| ≥ |z|) for a standard normal Z.
    public static func normalTwoSided(_ z: Double) -> Double {
        erfc(abs(z) / 2.0.squareRoot())
    }

    /// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom.
    public static func studentTwoSided(_ t: Double, degreesOfFreedom df: Double) -> Double {
        guard t.isFinite else { return t.isNaN ? 1 : 0 }
        guard df > 0 else { return 1 }
        return regularizedBeta(df / (df + t * t), a: df / 2, b: 0.5)
    }

    /// The `probability` quantile of Student's t (0.5 < probability < 1), by bisection.
    public static func tQuantile(_ probability: Double, degreesOfFreedom df: Double) -> Double {
        let tail = 2 * (1 - probability)
        var low = 0.0, high = 1e6
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if studentTwoSided(mid, degreesOfFreedom: df) > tail { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    /// Welch's unequal-variances t-test of two samples' means (each of at
    /// least two values). Two constant samples: 0 when they differ, else 1.
    public static func welch(_ a: [Double], _ b: [Double]) -> Double? {
        guard a.count >= 2, b.count >= 2 else { return nil }
        let va = pow(standardDeviation(a), 2) / Double(a.count), vb = pow(standardDeviation(b), 2) / Double(b.count)
        let difference = mean(b) - mean(a)
        guard va + vb > 0 else { return difference == 0 ? 1 : 0 }
        let df = (va + vb) * (va + vb) / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
        return studentTwoSided(difference / (va + vb).squareRoot(), degreesOfFreedom: df)
    }

    /// Whether one new value belongs to the population of `sample` (≥ 2
    /// values): its t against the sample's prediction interval, so that the
    /// single value's own scatter counts as much as one of the sample's.
    public static func predictionTest(_ value: Double, against sample: [Double]) -> Double? {
        guard sample.count >= 2 else { return nil }
        let n = Double(sample.count), spread = standardDeviation(sample) * (1 + 1 / n).squareRoot()
        let difference = value - mean(sample)
        guard spread > 0 else { return difference == 0 ? 1 : 0 }
        return studentTwoSided(difference / spread, degreesOfFreedom: n - 1)
    }

    /// The two-proportion z-test: whether `k1` of `n1` and `k2` of `n2` are
    /// the same share.
    public static func twoProportion(_ k1: Int, of n1: Int, _ k2: Int, of n2: Int) -> Double? {
        guard n1 > 0, n2 > 0 else { return nil }
        let p1 = Double(k1) / Double(n1), p2 = Double(k2) / Double(n2)
        let pooled = Double(k1 + k2) / Double(n1 + n2)
        let variance = pooled * (1 - pooled) * (1 / Double(n1) + 1 / Double(n2))
        guard variance > 0 else { return p1 == p2 ? 1 : 0 }
        return normalTwoSided((p2 - p1) / variance.squareRoot())
    }

    /// Two rates measured by Poisson counts (`n1`, `n2` samples standing for
    /// `r1`, `r2`): whether their ratio is 1, on the log scale.
    public static func poissonRatio(_ r1: Double, samples n1: Int, _ r2: Double, samples n2: Int) -> Double? {
        guard n1 > 0, n2 > 0, r1 > 0, r2 > 0 else { return nil }
        return normalTwoSided(log(r2 / r1) / (1 / Double(n1) + 1 / Double(n2)).squareRoot())
    }

    /// Holm's step-down correction: which of `pValues` are significant with
    /// the chance of any false one at most `level`.
    public static func holm(_ pValues: [Double], level: Double) -> [Bool] {
        var significant = [Bool](repeating: false, count: pValues.count)
        let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
        for (rank, index) in order.enumerated() {
            guard pValues[index] <= level / Double(pValues.count - rank) else { break }
            significant[index] = true
        }
        return significant
    }

    /// Three significant digits; "< 1e-300" where a Double runs out.
    public static func text(pValue p: Double) -> String {
        p < 1e-300 ? "< 1e-300" : String(printf: "%.3g", p)
    }

    /// I_x(a, b), by its continued fraction (modified Lentz), on the side
    /// where it converges fast.
    static func regularizedBeta(_ x: Double, a: Double, b: Double) -> Double {
        guard x > 0 else { return 0 }
        guard x < 1 else { return 1 }
        let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x))
        if x > (a + 1) / (a + b + 2) { return 1 - front * betaFraction(1 - x, a: b, b: a) / b }
        return front * betaFraction(x, a: a, b: b) / a
    }

    private static func betaFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        d = 1 / (abs(d) < tiny ? tiny : d)
        var result = d
        for m in 1...300 {
            let m = Double(m)
            for numerator in [m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                              -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))] {
                d = 1 + numerator * d
                d = 1 / (abs(d) < tiny ? tiny : d)
                c = 1 + numerator / c
                if abs(c) < tiny { c = tiny }
                result *= d * c
            }
            if abs(d * c - 1) < 1e-15 { break }
        }
        return result
    }
}
