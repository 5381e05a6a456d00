/// A function's share of the samples: `self` where it was the leaf,
/// `total` (inclusive) where it was anywhere on the stack.
public struct Hotspot: Codable, Hashable, Sendable {
    public var function: String
    public var module: String
    public var kernel: Bool
    public var selfSamples: Int
    public var selfPercent: Double
    public var totalSamples: Int
    public var totalPercent: Double
    /// 95% Wilson intervals of the two shares, in percent (nil in reports
    /// of earlier versions).
    public var selfInterval: ConfidenceInterval? = nil
    public var totalInterval: ConfidenceInterval? = nil

    /// Hotspots of the stacks `include` selects, most self time first.
    public static func rank(_ profile: Profile, where include: (Profile.Stack) -> Bool = { _ in true }) -> [Hotspot] {
        var selfCounts = [Int](repeating: 0, count: profile.functions.count)
        var totalCounts = [Int](repeating: 0, count: profile.functions.count)
        var samples = 0
        for stack in profile.stacks where include(stack) {
            samples += stack.count
            if let leaf = stack.frames.first { selfCounts[leaf] += stack.count }
            // Recursion puts a function on a stack more than once: count it once.
            for function in Set(stack.frames) { totalCounts[function] += stack.count }
        }
        guard samples > 0 else { return [] }
        return profile.functions.indices
            .filter { totalCounts[$0] > 0 }
            .map { index in
                let function = profile.functions[index]
                return Hotspot(function: function.function, module: function.module, kernel: function.kernel,
                               selfSamples: selfCounts[index], selfPercent: Double(selfCounts[index]) * 100 / Double(samples),
                               totalSamples: totalCounts[index], totalPercent: Double(totalCounts[index]) * 100 / Double(samples),
                               selfInterval: .share(selfCounts[index], of: samples), totalInterval: .share(totalCounts[index], of: samples))
            }
            .sorted { ($0.selfSamples, $0.totalSamples, $1.function) > ($1.selfSamples, $1.totalSamples, $0.function) }
    }

    /// The `count` with the most total time, as perf report's children view
    /// orders them: a split that lies in callers shows here.
    public static func byTotal(_ hotspots: [Hotspot], count: Int = 50) -> [Hotspot] {
        Array(hotspots.sorted { ($0.totalSamples, $0.selfSamples, $1.function) > ($1.totalSamples, $1.selfSamples, $0.function) }
            .prefix(count))
    }
}
