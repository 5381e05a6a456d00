import Foundation
import Testing
@testable import PerfProbeCore

@Suite struct AggregationTests {
    static func mapping(_ start: UInt64, _ end: UInt64, offset: UInt64 = 0, path: String) -> MemoryMapping {
        MemoryMapping(start: start, end: end, fileOffset: offset, executable: true, inode: 1, path: path)
    }

    @Test func addressesResolveAgainstLiveMappings() {
        var spaces = AddressSpaces()
        let parent = ProcessID(10), child = ProcessID(11)
        spaces.map(Self.mapping(0x1000, 0x3000, offset: 0x4000, path: "/bin/app"), in: parent)
        #expect(spaces.frame(for: 0x1010, in: parent) == Frame(module: 0, address: 0x4010))
        // A fork inherits the parent's mappings; an exec drops them.
        spaces.fork(child, from: parent)
        #expect(spaces.frame(for: 0x2000, in: child) == Frame(module: 0, address: 0x5000))
        spaces.exec(child)
        spaces.map(Self.mapping(0x1000, 0x2000, path: "/bin/worker"), in: child)
        #expect(spaces.frame(for: 0x1010, in: child) == Frame(module: 1, address: 0x10))
        #expect(spaces.frame(for: 0x1010, in: parent) == Frame(module: 0, address: 0x4010))
        // A new mapping over an old range replaces it (dlclose + dlopen).
        spaces.map(Self.mapping(0x1800, 0x2800, path: "/lib/plugin.so"), in: parent)
        #expect(spaces.frame(for: 0x1900, in: parent) == Frame(module: 2, address: 0x100))
        #expect(spaces.modules.map(\.path) == ["/bin/app", "/bin/worker", "/lib/plugin.so"])
    }

    @Test func anonymousCodeIsJITAndPseudoMappingsAreUnknown() {
        var spaces = AddressSpaces()
        let pid = ProcessID(getpid())
        spaces.map(Self.mapping(0x1000, 0x2000, path: "//anon"), in: pid)
        spaces.map(Self.mapping(0x5000, 0x6000, path: "[vsyscall]"), in: pid)
        let jit = spaces.frame(for: 0x1800, in: pid)
        #expect(spaces.modules[Int(jit.module)].path == Module.jit)
        #expect(jit.address == 0x1800) // absolute, as /tmp/perf-PID.map has it
        #expect(spaces.jitProcesses == [pid])
        #expect(spaces.frame(for: 0x5800, in: pid).module == Frame.unknown)
    }

    @Test func splicingNeedsAnUnambiguousJoin() {
        // The chain agrees with every DWARF frame: continue at the same depth.
        #expect(DwarfUnwinder.splicePoint(dwarf: [1, 5, 5, 5], chain: [1, 5, 5, 5, 5, 5, 9]) == 4)
        // The chain skipped a frame (a leaf without a frame pointer): join after the one shared frame.
        #expect(DwarfUnwinder.splicePoint(dwarf: [1, 2, 3], chain: [1, 3, 4, 8]) == 2)
        // Recursion, disagreeing chain: the last frame repeats, so no join is safe.
        #expect(DwarfUnwinder.splicePoint(dwarf: [1, 2, 5], chain: [1, 5, 5, 5, 9]) == nil)
        // Nothing to add, or nothing shared.
        #expect(DwarfUnwinder.splicePoint(dwarf: [1, 2], chain: [1, 2]) == nil)
        #expect(DwarfUnwinder.splicePoint(dwarf: [1, 2], chain: [1, 7, 8]) == nil)
    }

    static func profile() -> Profile {
        let functions = [
            SymbolizedFrame(function: "leaf", module: "app", kernel: false, symbolized: true),
            SymbolizedFrame(function: "recurse", module: "app", kernel: false, symbolized: true),
            SymbolizedFrame(function: "main", module: "app", kernel: false, symbolized: true),
            SymbolizedFrame(function: "do_syscall_64", module: "[kernel]", kernel: true, symbolized: true),
            SymbolizedFrame(function: "odd;name", module: "app", kernel: false, symbolized: true),
        ]
        return Profile(functions: functions, stacks: [
            .init(pid: ProcessID(1), tid: ThreadID(1), frames: [0, 1, 1, 1, 2], count: 6),
            .init(pid: ProcessID(1), tid: ThreadID(2), frames: [3, 4, 2], count: 3),
            .init(pid: ProcessID(1), tid: ThreadID(2), frames: [2], count: 1),
        ])
    }

    @Test func hotspotsCountRecursionOnce() throws {
        let hotspots = Hotspot.rank(Self.profile())
        let leaf = try #require(hotspots.first)
        #expect(leaf.function == "leaf" && leaf.selfSamples == 6 && leaf.selfPercent == 60)
        let recurse = try #require(hotspots.first { $0.function == "recurse" })
        #expect(recurse.totalSamples == 6 && recurse.selfSamples == 0)
        let main = try #require(hotspots.first { $0.function == "main" })
        #expect(main.totalPercent == 100 && main.selfSamples == 1)
        let threadTwo = Hotspot.rank(Self.profile(), where: { $0.tid == ThreadID(2) })
        #expect(threadTwo.first?.function == "do_syscall_64")
        #expect(threadTwo.first?.selfPercent == 75)
    }

    @Test func foldedStacksAreRootFirstWithKernelMarks() throws {
        var report = try ReportFixture.report(profile: Self.profile())
        report.threads = [
            .init(pid: ProcessID(1), tid: ThreadID(1), name: "main-thread", samples: 6, percent: 60),
            .init(pid: ProcessID(1), tid: ThreadID(2), name: "worker", samples: 4, percent: 40),
        ]
        let text = String(decoding: try #require(try FoldedStacksFormat().render(report)), as: UTF8.self)
        #expect(text.split(separator: "\n").sorted() == [
            "main-thread;main;recurse;recurse;recurse;leaf 6",
            "worker;main 1",
            "worker;main;odd:name;do_syscall_64_[k] 3",
        ])
    }

    /// report.json says the fixture's known split, under the documented
    /// names (docs/report.schema.json), and reads back to the same figures:
    /// 10 samples, leaf 60% by itself, main in every stack.
    @Test func reportJSONSaysTheKnownSplit() throws {
        let data = try #require(try JSONReportFormat().render(try ReportFixture.report(profile: Self.profile())))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((json["samples"] as? [String: Any])?["total"] as? Int == 10)
        let hotspots = try #require(json["hotspots"] as? [[String: Any]])
        #expect(hotspots.first?["function"] as? String == "leaf" && hotspots.first?["self_percent"] as? Double == 60)
        #expect(hotspots.first { $0["function"] as? String == "main" }?["total_percent"] as? Double == 100)
        let stacks = try #require((json["profile"] as? [String: Any])?["stacks"] as? [[String: Any]])
        #expect(stacks.compactMap { $0["count"] as? Int } == [6, 3, 1])

        let decoded = try JSONReportFormat.decode(data)
        let functions = decoded.profile.functions.map(\.function)
        #expect(decoded.profile.stacks.map { $0.frames.map { functions[Int($0)] } }
                == [["leaf", "recurse", "recurse", "recurse", "main"], ["do_syscall_64", "odd;name", "main"], ["main"]])
        #expect(decoded.hotspots.first.map { ($0.function, $0.selfSamples) } ?? ("", 0) == ("leaf", 6))
    }
}

enum ReportFixture {
    static func report(profile: Profile) throws -> ProfileReport {
        ProfileReport(
            target: .init(mode: "run", pid: ProcessID(1), command: ["app"], name: "app", outcome: .running),
            sampling: .init(event: "cpu-clock", frequencyHz: 99, includeKernel: true, unwind: "fp", stackSizeBytes: 0),
            startedAt: "2026-01-01T00:00:00Z", durationSeconds: 1,
            samples: .init(total: profile.totalSamples, lostRecords: 0, lostSamples: 0, throttleEvents: 0),
            cpu: .init(utilisationPercent: 100, userPercent: 90, systemPercent: 10),
            processes: [], threads: [], hotspots: Hotspot.rank(profile), threadHotspots: [],
            timeline: [], counters: [],
            stackQuality: .measure(capture: Capture(), profile: profile), memory: nil, heap: nil,
            agent: AgentUsage(cpuSeconds: 0, peakRssBytes: 0), unreadableModules: [:], profile: profile)
    }
}
