import Foundation
import PerfProbeCore
import Testing

/// Memory growth against the samples' known leak rates and working sets.
extension BinaryTests {
@Suite struct MemoryTests {
    struct MemoryResults: Decodable {
        struct Leak: Decodable {
            var type: String
            var severity: String
            var description: String
            var growthRate: Double
        }
        struct Usage: Decodable {
            var min: UInt64
            var max: UInt64
            var average: Double
            var growthRate: Double
        }
        var success: Bool
        var memoryLeaksDetected: Int
        var memoryLeaks: [Leak]
        var heapUsage: Usage
        var peakMemoryUsage: UInt64
        var optimizationOpportunities: [String]
    }

    static func results(_ directory: String) throws -> MemoryResults {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(MemoryResults.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/test-performance-memory-results.json")))
    }

    /// leaker leaks 1 MiB/s.
    static func expectLeak(_ outcome: Harness.Outcome) throws {
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let memory = try #require(try outcome.report.memory)
        #expect(memory.growth.verdict == .growing)
        #expect(abs(memory.growth.slopeBytesPerSecond / 1_048_576 - 1) <= 0.3, "\(memory.growth)")
        let results = try Self.results(outcome.directory)
        #expect(results.success == false)
        #expect(results.memoryLeaksDetected == 1)
        let leak = try #require(results.memoryLeaks.first)
        #expect(abs(leak.growthRate / 1_048_576 - 1) <= 0.3)
        #expect(leak.severity == "high")
        #expect(results.heapUsage.max > results.heapUsage.min + 2 * 1_048_576)
        #expect(results.peakMemoryUsage >= results.heapUsage.max)
        #expect(outcome.stdout.contains("leak suspected"))
    }

    @Test func runFindsTheLeakRate() throws {
        let resultsDir = Harness.scratch()
        let outcome = try Harness.perfprobe(["run", "--heap", "--results-dir", resultsDir, "--", Harness.samples + "/leaker", "5"])
        try Self.expectLeak(outcome)
        // The results file also lands in --results-dir.
        #expect(try Self.results(resultsDir).memoryLeaksDetected == 1)
        #expect(!FileManager.default.fileExists(atPath: resultsDir + "/report.json"))
    }

    @Test func attachFindsTheLeakRate() throws {
        let target = try Harness.launch("leaker", ["0"])
        defer { Harness.stop(target) }
        Thread.sleep(forTimeInterval: 0.5)
        try Self.expectLeak(try Harness.perfprobe(["attach", "--heap", "--duration", "4.5", String(target.processIdentifier)]))
    }

    @Test func boundedChurnIsNotALeak() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--", Harness.samples + "/churner", "4"])
        #expect(try outcome.report.memory?.growth.verdict == .stable)
        let results = try Self.results(outcome.directory)
        #expect(results.success && results.memoryLeaksDetected == 0 && results.memoryLeaks.isEmpty)
    }

    @Test func plateauIsNotALeak() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--", Harness.samples + "/plateau", "6", "3"])
        #expect(try outcome.report.memory?.growth.verdict == .plateau)
        let results = try Self.results(outcome.directory)
        #expect(results.success && results.memoryLeaksDetected == 0)
        #expect(results.optimizationOpportunities.count == 1)
    }

    @Test func noMemoryFileWithoutHeap() throws {
        let outcome = try Harness.perfprobe(["run", "--", Harness.samples + "/leaker", "0.5"])
        #expect(try outcome.report.memory == nil)
        #expect(!FileManager.default.fileExists(atPath: outcome.directory + "/test-performance-memory-results.json"))
    }
}
}
