import FoundationEssentials

/// test-performance-memory-results.json, the file performance-test pipelines
/// gate on (written with --heap). `success` is false when memory keeps growing.
public struct MemoryResultsFormat: ReportFormat {
    public let fileName = "test-performance-memory-results.json"
    public let name = "memory-results"
    public var isResultsFile: Bool { true }

    public init() {}

    /// The file's contents (keys in snake_case).
    public struct Results: Codable, Sendable {
        public struct Leak: Codable, Sendable {
            public var type: String
            public var severity: String
            public var description: String
            /// Bytes per second.
            public var growthRate: Double
            /// The allocating stacks (function names, root first) with their
            /// outstanding bytes; empty when allocations were not traced.
            public var suspectedCauses: [Cause]
        }

        public struct Cause: Codable, Sendable {
            public var stack: [String]
            public var outstandingBytes: UInt64
        }

        public struct Usage: Codable, Sendable {
            public var min: UInt64
            public var max: UInt64
            public var average: Double
            public var growthRate: Double
        }

        public var success: Bool
        public var memoryLeaksDetected: Int
        public var memoryLeaks: [Leak]
        /// Over the anonymous memory (heap and anonymous mappings) timeline.
        public var heapUsage: Usage
        public var peakMemoryUsage: UInt64
        public var optimizationOpportunities: [String]
        public var growth: MemoryGrowth
        /// The CI gates that tripped, one line each.
        public var failedGates: [String]
    }

    public static func decode(_ data: Data) throws -> Results {
        try ReportJSON.decode(Results.self, from: data)
    }

    public func render(_ report: ProfileReport) throws -> Data? {
        try Self.results(report).map(ReportJSON.encode)
    }

    /// The file's contents for `report`; nil without --heap (also shown in report.html).
    public static func results(_ report: ProfileReport) -> Results? {
        guard let memory = report.memory else { return nil }
        let growth = memory.growth
        var leaks: [Results.Leak] = []
        var opportunities: [String] = []
        let settled = String(printf: "%.1f s after a %.1f s warm-up", (memory.timeline.last?.t ?? 0) - growth.warmupSeconds,
                             growth.warmupSeconds)
        // With allocation stacks, each growing stack is a leak with its evidence.
        for stack in report.heap?.stacks ?? [] {
            switch stack.kind {
            case .leak:
                let live = stack.oldestLiveSeconds.map { String(printf: ", the oldest live for %.1f s", $0) } ?? ""
                leaks.append(Results.Leak(
                    type: "heap_allocation_leak", severity: Self.severity(stack.growthBytesPerSecond),
                    description: String(printf: "allocations from %@ keep growing: %@/s%@ (R² %.2f), %@ outstanding in %d sampled live objects%@; %@ allocated, %@ freed (%.0f allocations/s, %@/s freed)%@",
                                        Self.chain(stack.functions), Self.bytes(stack.growthBytesPerSecond),
                                        Self.range(stack.growthInterval, perSecond: true), stack.growthRSquared,
                                        Self.bytes(Double(stack.outstandingBytes)), stack.outstandingObjects, live,
                                        Self.bytes(Double(stack.allocatedBytes)), Self.bytes(Double(stack.freedBytes)),
                                        stack.allocationsPerSecond, Self.bytes(stack.freeBytesPerSecond),
                                        stack.freedAtExitBytes.map { "; \(Self.bytes(Double($0))) of it freed only as the program ended" } ?? ""),
                    growthRate: stack.growthBytesPerSecond,
                    suspectedCauses: [Results.Cause(stack: stack.functions, outstandingBytes: stack.outstandingBytes)]))
            case .churn:
                opportunities.append(String(printf: "allocation churn in %@: %.0f allocations/s%@ (%@/s), %.0f%% of the bytes freed again: reuse or pool these buffers.",
                                            Self.chain(stack.functions), stack.allocationsPerSecond,
                                            stack.allocationsPerSecondInterval.map { String(printf: " (95%% CI %.0f–%.0f)", $0.low, $0.high) } ?? "",
                                            Self.bytes(stack.allocationBytesPerSecond),
                                            Double(stack.freedBytes) * 100 / Double(max(stack.allocatedBytes, 1))))
            case .retained, .transient:
                break
            }
        }
        switch growth.verdict {
        case .growing where leaks.isEmpty:
            let rate = growth.slopeBytesPerSecond
            let traced = report.heap == nil
                ? "Allocation stacks were not traced."
                : "No sampled malloc stack grew: the growth is outside malloc (mmap, thread stacks, allocator caches)."
            leaks.append(Results.Leak(
                type: "memory_growth", severity: Self.severity(rate),
                description: String(printf: "anonymous memory of %@ (pid %d) kept growing: %@/s (R² %.2f) over %@, %@/s over the last 40%%; %@ per hour at this rate. %@",
                                    report.target.name, report.target.pid.rawValue, Self.bytes(rate), growth.rSquared, settled,
                                    Self.bytes(growth.finalSlopeBytesPerSecond), Self.bytes(rate * 3600), traced),
                growthRate: rate, suspectedCauses: []))
        case .plateau:
            opportunities.append(String(printf: "anonymous memory grew from %@ to %@ over %@, then levelled off (%@/s at the end): a cache or pool; check that its bound is intended.",
                                        Self.bytes(Double(growth.startBytes)),
                                        Self.bytes(Double(memory.timeline.map(\.anonymousBytes).max() ?? 0)), settled,
                                        Self.bytes(growth.finalSlopeBytesPerSecond)))
        case .growing, .stable, .unknown:
            break
        }
        let anonymous = memory.timeline.map(\.anonymousBytes)
        return Results(
            success: leaks.isEmpty && (report.gates ?? []).isEmpty, memoryLeaksDetected: leaks.count, memoryLeaks: leaks,
            heapUsage: Results.Usage(min: anonymous.min() ?? 0, max: anonymous.max() ?? 0,
                                     average: anonymous.isEmpty ? 0 : Double(anonymous.reduce(0, +)) / Double(anonymous.count),
                                     growthRate: growth.slopeBytesPerSecond),
            peakMemoryUsage: memory.peakRssBytes, optimizationOpportunities: opportunities, growth: growth,
            failedGates: (report.gates ?? []).map(\.message))
    }

    /// " (95% CI 0.98–1.02 MiB/s)", or nothing without an interval.
    static func range(_ interval: ConfidenceInterval?, perSecond: Bool) -> String {
        guard let interval else { return "" }
        return " (95% CI \(bytes(interval.low))–\(bytes(interval.high))\(perSecond ? "/s" : ""))"
    }

    static func severity(_ rate: Double) -> String {
        rate >= 524_288 ? "high" : rate >= 65_536 ? "medium" : "low"
    }

    /// "leaf ← caller ← …" for the innermost frames of a root-first stack.
    static func chain(_ functions: [String], depth: Int = 4) -> String {
        functions.reversed().prefix(depth).joined(separator: " ← ")
    }

    static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = value
        var unit = 0
        while abs(scaled) >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return String(printf: unit == 0 ? "%.0f %@" : "%.2f %@", scaled, units[unit])
    }
}
