import Foundation
import Testing
@testable import PerfProbeCore

/// DWARF inline chains and lines: the inline tree on hand-made entries, the
/// reader against addr2line on a program built here, and damaged files.
@Suite struct DebugInfoTests {
    /// 0 a function [0x100, 0x200): 1 inlined at [0x120, 0x180), holding 2
    /// at [0x130, 0x140); 3 inlined at two ranges.
    @Test func inlineTreeGivesTheChainInnermostFirst() {
        let tree = InlineTree([
            .init(ranges: [0x100..<0x200], parent: -1, inlined: false),
            .init(ranges: [0x120..<0x180], parent: 0, inlined: true),
            .init(ranges: [0x130..<0x140], parent: 1, inlined: true),
            .init(ranges: [0x190..<0x1a0, 0x1b0..<0x1c0], parent: 0, inlined: true),
        ])
        #expect(tree.chain(at: 0x100) == [0])
        #expect(tree.chain(at: 0x125) == [1, 0])
        #expect(tree.chain(at: 0x130) == [2, 1, 0])
        #expect(tree.chain(at: 0x13f) == [2, 1, 0])
        #expect(tree.chain(at: 0x140) == [1, 0])
        #expect(tree.chain(at: 0x185) == [0])
        #expect(tree.chain(at: 0x1b5) == [3, 0])
        #expect(tree.chain(at: 0x1ff) == [0])
        #expect(tree.chain(at: 0x200).isEmpty && tree.chain(at: 0x50).isEmpty)
        #expect(tree.segmentStart(at: 0x135) == 0x130 && tree.segmentStart(at: 0x145) == 0x140)
    }

    /// Entries as hostile DWARF could give them: parents pointing forward or
    /// at themselves, siblings overlapping, children outside their parent,
    /// empty and reversed ranges. The segments stay sorted and disjoint and
    /// every chain ends.
    @Test func inlineTreeSurvivesMalformedEntries() {
        let entries: [InlineTree.Entry] = [
            .init(ranges: [0x100..<0x200], parent: 3, inlined: true),
            .init(ranges: [0x150..<0x300], parent: 0, inlined: true),
            .init(ranges: [0x180..<0x190, 0x0..<0x0], parent: 1, inlined: true),
            .init(ranges: [0x110..<0x400], parent: 2, inlined: false),
            .init(ranges: [0x120..<0x130], parent: 4, inlined: true),
        ]
        let tree = InlineTree(entries)
        for (earlier, later) in zip(tree.segments, tree.segments.dropFirst()) {
            #expect(earlier.range.upperBound <= later.range.lowerBound)
        }
        for address in stride(from: UInt64(0xf0), to: 0x410, by: 8) {
            let chain = tree.chain(at: address)
            #expect(chain.count <= entries.count && Set(chain).count == chain.count, "0x\(String(address, radix: 16)): \(chain)")
        }
        #expect(tree.chain(at: 0x185).first == 2)
    }

    /// The reader against addr2line, on every instruction of a function
    /// built -O2 -g with helpers inlined into it.
    @Test func chainsAndLinesAgreeWithAddr2line() throws {
        let dir = try TemporaryDirectory()
        let binary = try dir.compile("""
            static inline __attribute__((always_inline)) unsigned inner(unsigned x, unsigned n) {
                for (unsigned i = 0; i < n; i++) x = x * 2654435761u + i;
                return x;
            }
            static inline __attribute__((always_inline)) unsigned middle(unsigned x) {
                return inner(x, 100) ^ inner(x + 1, 50);
            }
            __attribute__((noinline)) unsigned outer(unsigned x) {
                return middle(x) + inner(x, 7);
            }
            int main(int argc, char **argv) { return (int)outer((unsigned)argc); }
            """, flags: ["-O2", "-g"])
        let start = try #require(try dir.nmAddresses(binary)["outer"])
        let info = try #require(ModuleDebugInfo(paths: [binary], lines: true))
        let addresses = (0..<48).map { start + UInt64($0) }
        let reference = try Self.addr2line(binary, addresses, in: dir)
        var inlinedSeen = false
        for address in addresses {
            let levels = info.levels(at: address)
            let theirs = try #require(reference[address])
            #expect(levels.map { $0.name ?? "outer" } == theirs.map(\.function), "0x\(String(address, radix: 16))")
            #expect(levels.map(\.line) == theirs.map(\.line), "0x\(String(address, radix: 16))")
            #expect(levels.allSatisfy { $0.file?.hasSuffix("/t.c") == true })
            inlinedSeen = inlinedSeen || levels.count > 2
        }
        #expect(inlinedSeen, "no address of outer has inner inside middle")
    }

    /// Truncated and corrupted copies of a file with DWARF: lookups answer
    /// something or nothing, never crash, and hang on nothing.
    @Test func damagedDWARFNeverCrashes() throws {
        let dir = try TemporaryDirectory()
        let binary = try dir.compile("""
            static inline __attribute__((always_inline)) int twice(int x) { return x * 2 + 1; }
            __attribute__((noinline)) int work(int x) { int s = 0; for (int i = 0; i < x; i++) s += twice(i); return s; }
            int main(int argc, char **argv) { return work(argc); }
            """, flags: ["-O2", "-g"])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: binary)))
        let start = try #require(try dir.nmAddresses(binary)["work"])
        let whole = try #require(ModuleDebugInfo(paths: [binary], lines: true))
        #expect(whole.levels(at: start + 8).contains { $0.line != nil })
        var generator = SplitMix(seed: 0x5eed)
        var copies: [[UInt8]] = stride(from: 64, to: bytes.count, by: max(bytes.count / 40, 1)).map { Array(bytes.prefix($0)) }
        for _ in 0..<60 {
            var copy = bytes
            // Damage the back half, where the debug sections lie.
            for _ in 0..<16 {
                let position = bytes.count / 2 + Int(generator.next() % UInt64(bytes.count / 2))
                copy[position] = UInt8(truncatingIfNeeded: generator.next())
            }
            copies.append(copy)
        }
        for (number, copy) in copies.enumerated() {
            let path = dir.path + "/damaged-\(number)"
            try Data(copy).write(to: URL(fileURLWithPath: path))
            guard let info = ModuleDebugInfo(paths: [path], lines: true) else { continue }
            for offset in stride(from: UInt64(0), to: 64, by: 3) { _ = info.levels(at: start + offset) }
        }
    }

    /// A report whose locations do not fit its functions and stacks is
    /// refused, naming the field; addresses are hex in JSON and read back.
    @Test func reportLocationsAreCheckedAndReadBack() throws {
        let frames = [SymbolizedFrame(function: "loop", module: "app", kernel: false, symbolized: true),
                      SymbolizedFrame(function: "caller", module: "app", kernel: false, symbolized: true)]
        let location = Profile.Location(module: "app", address: 0xffff_ffff_8100_0000,
                                        lines: [.init(function: 0, file: "/src/a.c", line: 7), .init(function: 1, file: "/src/a.c", line: 20)])
        let profile = Profile(functions: frames, stacks: [.init(pid: ProcessID(1), tid: ThreadID(1), frames: [0, 1], count: 5, locations: [0])],
                              locations: [location])
        let good = try ReportFixture.report(profile: profile)
        let data = try #require(try JSONReportFormat().render(good))
        #expect(String(decoding: data, as: UTF8.self).contains("\"address\" : \"0xffffffff81000000\""))
        let decoded = try JSONReportFormat.decode(data)
        #expect(decoded.profile.locations == [location])
        _ = try decoded.validated()
        var outside = good
        outside.profile.stacks[0].locations = [1]
        do { _ = try outside.validated(); Issue.record("accepted") } catch { #expect(error.field == "profile.stacks[0].locations[0]") }
        var mismatch = good
        mismatch.profile.stacks[0].frames = [1, 0]
        do { _ = try mismatch.validated(); Issue.record("accepted") } catch { #expect(error.field == "profile.stacks[0].frames") }
        var badFunction = good
        badFunction.profile.locations?[0].lines[1].function = 5
        do { _ = try badFunction.validated(); Issue.record("accepted") } catch { #expect(error.field == "profile.locations[0].lines[1].function") }
        var named = good
        named.profile.locations?[0].lines[0].file = "/src/\u{1B}[2Ja.c"
        #expect(try named.validated().profile.locations?[0].lines[0].file == "/src/\\x1B[2Ja.c")
    }

    /// addr2line -i -f -a: each address's chain, innermost first.
    static func addr2line(_ binary: String, _ addresses: [UInt64], in dir: TemporaryDirectory) throws -> [UInt64: [(function: String, line: Int?)]] {
        let output = try dir.run("/usr/bin/addr2line", ["-i", "-f", "-a", "-e", binary] + addresses.map { "0x" + String($0, radix: 16) })
        var chains: [UInt64: [(String, Int?)]] = [:]
        var address: UInt64?
        var function: String?
        for line in output.split(separator: "\n").map(String.init) {
            if function == nil, line.hasPrefix("0x"), let value = UInt64(line.dropFirst(2), radix: 16) {
                address = value
                chains[value] = []
            } else if let name = function {
                let place = line.split(separator: " ").first.map(String.init) ?? line
                let number = place.split(separator: ":").last.flatMap { Int($0) }
                if let address { chains[address]?.append((name, number == 0 ? nil : number)) }
                function = nil
            } else {
                function = line
            }
        }
        return chains
    }
}

/// A small seeded generator: damage that is the same on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
