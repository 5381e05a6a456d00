import Testing
@testable import PerfProbeCore

@Suite struct MemoryGrowthTests {
    /// A timeline every 100 ms for `seconds`, anonymous bytes given by `bytes(t)`.
    static func timeline(seconds: Double, _ bytes: (Double) -> Double) -> [MemoryPoint] {
        stride(from: 0.0, through: seconds, by: 0.1).map { t in
            let value = UInt64(max(0, bytes(t)))
            return MemoryPoint(t: t, rssBytes: value + 4 << 20, anonymousBytes: value, pssBytes: nil, dataBytes: value,
                               peakRssBytes: value + 4 << 20)
        }
    }

    @Test func fitRecoversALine() throws {
        let fit = try #require(LinearFit(x: [0, 1, 2, 3], y: [10, 12, 14, 16]))
        #expect(fit.slope == 2 && fit.intercept == 10 && fit.rSquared == 1)
        #expect(LinearFit(x: [1, 1, 1], y: [1, 2, 3]) == nil)
        #expect(try #require(LinearFit(x: [0, 1, 2], y: [5, 5, 5])).slope == 0)
    }

    @Test func steadyLeakIsGrowingAtItsRate() {
        // 1 MiB/s with page-sized jitter, after 3 MiB of start-up.
        let growth = MemoryGrowth.analyze(Self.timeline(seconds: 6) { 3 * 1_048_576 + $0 * 1_048_576 + Double(Int($0 * 10) % 3) * 4096 })
        #expect(growth.verdict == .growing)
        #expect(abs(growth.slopeBytesPerSecond - 1_048_576) < 10_000)
        #expect(growth.rSquared > 0.99)
    }

    @Test func boundedWorkingSetIsStableHoweverLarge() {
        // 2 GiB, jittering by ±8 MiB: big, but not growing.
        let growth = MemoryGrowth.analyze(Self.timeline(seconds: 10) { 2e9 + Double((Int($0 * 10) * 7919) % 17 - 8) * 1_048_576 })
        #expect(growth.verdict == .stable)
    }

    @Test func growthThatLevelsOffIsAPlateau() {
        let growth = MemoryGrowth.analyze(Self.timeline(seconds: 8) { min($0, 4) * 2 * 1_048_576 })
        #expect(growth.verdict == .plateau)
        #expect(abs(growth.finalSlopeBytesPerSecond) < GrowthThreshold.minimumRate)
    }

    @Test func slowTrickleBelowTheNoiseFloorIsStable() {
        let growth = MemoryGrowth.analyze(Self.timeline(seconds: 10) { 50e6 + $0 * 8192 })
        #expect(growth.verdict == .stable)
    }

    @Test func tooShortToTell() {
        #expect(MemoryGrowth.analyze(Self.timeline(seconds: 1.5) { $0 * 1e6 }).verdict == .unknown)
        #expect(MemoryGrowth.analyze([]).verdict == .unknown)
    }

    @Test func boundedTimelineHalvesItsDensity() {
        var timeline = BoundedTimeline<Int>(capacity: 8)
        for i in 0..<100 { timeline.append(i) }
        #expect(timeline.points.count < 8)
        #expect(timeline.points.first == 0)
        // Evenly spaced, and reaching the recent end.
        let gaps = Set(zip(timeline.points, timeline.points.dropFirst()).map { $1 - $0 })
        #expect(gaps.count == 1)
        #expect(timeline.points.last! >= 100 - 2 * timeline.stride)
    }

    @Test func memoryPointFromStatus() throws {
        let status = KeyValueFile.parse("VmHWM:\t 9000 kB\nVmRSS:\t 8000 kB\nRssAnon:\t 5000 kB\nVmData:\t 7000 kB\n")
        let rollup = KeyValueFile.parse("Rss: 8000 kB\nPss: 6000 kB\n")
        let point = try #require(MemoryPoint.from(status: status, rollup: rollup, t: 1.5))
        #expect(point.rssBytes == 8000 * 1024 && point.anonymousBytes == 5000 * 1024)
        #expect(point.pssBytes == 6000 * 1024 && point.peakRssBytes == 9000 * 1024 && point.dataBytes == 7000 * 1024)
        #expect(MemoryPoint.from(status: KeyValueFile.parse("Name: kthreadd\n"), rollup: nil, t: 0) == nil)
    }
}
