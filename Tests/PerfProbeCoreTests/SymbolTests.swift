import Foundation
import Testing
@testable import PerfProbeCore

@Suite struct SymbolTests {
    @Test func lookupRespectsSizesAndGaps() {
        let table = SymbolTable([
            .init(address: 0x1000, size: 0x10, name: "sized"),
            .init(address: 0x1100, size: 0, name: "unsized"),
            .init(address: 0x1200, size: 0x20, name: "last"),
            .init(address: 0x1000, size: 0x10, name: "alias"),
        ])
        #expect(table.lookup(0x0fff) == nil)
        #expect(table.lookup(0x1000)?.name == "sized")
        #expect(table.lookup(0x100f)?.name == "sized")
        #expect(table.lookup(0x1010) == nil) // past the end of a sized symbol
        #expect(table.lookup(0x11ff)?.name == "unsized") // runs to the next symbol
        #expect(table.lookup(0x121f)?.name == "last")
        #expect(table.lookup(0x1220) == nil)
        #expect(table.symbols.count == 3) // the alias at 0x1000 is dropped
    }

    /// Batches added later merge into the table as one sorted run, the
    /// names already held winning at a shared address, as a table built at once would.
    @Test func addedBatchesMergeLikeOneTable() {
        var random = SystemRandomNumberGenerator()
        let batches = (0..<5).map { batch in
            (0..<200).map { index in Symbol(address: UInt64.random(in: 0..<4000, using: &random) * 16, size: 16, name: "b\(batch)_\(index)") }
        }
        var table = SymbolTable(batches[0])
        for batch in batches.dropFirst() { table.add(batch) }
        #expect(table.symbols == SymbolTable(batches.flatMap { $0 }).symbols)
        #expect(zip(table.symbols, table.symbols.dropFirst()).allSatisfy { $0.address < $1.address })
    }

    /// Read for some addresses only, kallsyms names each of them as the
    /// whole table does (this machine's 100k+ symbols, modules included),
    /// keeping no more symbols than there are addresses.
    @Test func kallsymsReadForSomeAddressesNamesThemAsTheWholeTable() throws {
        let text = try #require(try? Syscalls.readFile("/proc/kallsyms"))
        let whole = KernelSymbols(text)
        try #require(whole.names.count > 10_000, "kallsyms hides its addresses (kptr_restrict)")
        var random = SystemRandomNumberGenerator()
        // Every 300th function of the file (core kernel and modules alike).
        let starts = String(decoding: text, as: UTF8.self).split(separator: "\n").enumerated()
            .filter { $0.offset % 300 == 0 }.compactMap { _, line -> UInt64? in
                let fields = line.split(separator: " ")
                guard fields.count >= 3, "tT".contains(fields[1]) else { return nil }
                return UInt64(fields[0], radix: 16)
            }
        try #require(starts.count > 100)
        // Function starts, inside functions, and anywhere (below the first symbol too).
        let addresses = starts + starts.map { $0 + UInt64.random(in: 1..<64, using: &random) }
            + (0..<300).map { _ in UInt64.random(in: 0xffff_ffff_0000_0000...UInt64.max, using: &random) }
        let some = KernelSymbols(text, covering: addresses)
        #expect(some.names.count <= Set(addresses).count)
        for address in addresses {
            #expect(some.lookup(address) == whole.lookup(address), "at \(String(address, radix: 16))")
        }
        #expect(KernelSymbols([], covering: addresses).isEmpty)
    }

    @Test func kallsymsKeepsTextSymbolsOnly() throws {
        let table = KernelSymbols(Array(try FixtureFiles.text("kallsyms.txt").utf8))
        #expect(table.names == ["_stext", "do_syscall_64", "schedule", "nf_hook_thing"])
        #expect(table.lookup(0xffff_ffff_8225_a650 + 5) == "do_syscall_64")
        #expect(table.lookup(0xffff_ffff_c0a0_1004) == "nf_hook_thing")
        #expect(table.lookup(0xffff_ffff_8000_0000) == nil)
        #expect(table.start(of: 0xffff_ffff_8225_a650 + 5) == 0xffff_ffff_8225_a650)
    }

    @Test func perfMapOfAJIT() {
        let table = PerfMapFile.parse("7f0000001000 40 LazyCompile:~handler app.js:12\n0x7f0000002000 0x10 stub\nbad line\n")
        #expect(table.lookup(0x7f00_0000_1010)?.name == "LazyCompile:~handler app.js:12")
        #expect(table.lookup(0x7f00_0000_1040) == nil)
        #expect(table.lookup(0x7f00_0000_2008)?.name == "stub")
    }

    @Test func debugFileLocations() {
        let paths = DebugFiles.candidates(buildID: [0xab, 0x01, 0xff], debugLink: "libfoo.so.debug", modulePath: "/usr/lib/libfoo.so")
        #expect(paths == ["/usr/lib/debug/.build-id/ab/01ff.debug", "/usr/lib/libfoo.so.debug",
                          "/usr/lib/.debug/libfoo.so.debug", "/usr/lib/debug/usr/lib/libfoo.so.debug"])
        #expect(DebugFiles.candidates(buildID: nil, debugLink: nil, modulePath: "/bin/x").isEmpty)
    }

    @Test func restrictedKallsymsGivesNoSymbols() {
        let table = KernelSymbols(Array("0000000000000000 T _stext\n0000000000000000 T schedule\n".utf8))
        #expect(table.isEmpty)
    }

    /// Builds a small ELF with known functions, then checks the libelf reader
    /// against `nm`: the reference for what the symbol table says.
    @Test func elfSymbolsMatchNm() throws {
        let dir = try TemporaryDirectory()
        let binary = try dir.compile("""
            __attribute__((noinline)) int alpha(int x) { return x * 3 + 1; }
            __attribute__((noinline)) int beta(int x) { return alpha(x) * 7; }
            static __attribute__((noinline)) int gamma_local(int x) { return beta(x) - 2; }
            int main(int argc, char **argv) { return gamma_local(argc); }
            """, flags: ["-O1", "-g"])
        let elf = try ElfFile(path: binary)
        let table = SymbolTable(elf.functionSymbols)
        let nm = try dir.nmAddresses(binary)
        for name in ["alpha", "beta", "gamma_local", "main"] {
            let address = try #require(nm[name], "nm lists \(name)")
            #expect(table.lookup(address)?.name == name)
            #expect(table.lookup(address + 1)?.name == name)
        }
        #expect(elf.buildID?.count == 20)
        #expect(elf.loadSegments.contains { $0.offset == 0 })
    }

    @Test func strippedBinaryFallsBackToDynamicSymbols() throws {
        let dir = try TemporaryDirectory()
        let binary = try dir.compile("""
            __attribute__((noinline)) int exported_fn(int x) { return x + 41; }
            __attribute__((noinline)) static int hidden_fn(int x) { return exported_fn(x) * 2; }
            int main(int argc, char **argv) { return hidden_fn(argc); }
            """, flags: ["-O1", "-rdynamic", "-s"])
        let elf = try ElfFile(path: binary)
        let names = elf.functionSymbols.map(\.name)
        #expect(names.contains("exported_fn"))
        #expect(!names.contains("hidden_fn"))
    }

    @Test func unsymbolizedFramesNameModuleAndOffset() throws {
        let dir = try TemporaryDirectory()
        let binary = try dir.compile("int main(void) { return 0; }", flags: ["-s"])
        var symbolizer = Symbolizer(modules: [Module(path: binary, inode: 1, pid: ProcessID(getpid()))])
        let frame = symbolizer.symbolize(Frame(module: 0, address: 0x1234))
        #expect(frame.function == "\(URL(fileURLWithPath: binary).lastPathComponent)+0x1234")
        #expect(!frame.symbolized)
    }

    /// The sidecar merges stacks by function: every address inside a function
    /// moves to its start, which names the same function.
    @Test func framesMoveToTheirFunctionStart() throws {
        let dir = try TemporaryDirectory()
        let binary = try dir.compile("""
            __attribute__((noinline)) int alpha(int x) { for (int i = 0; i < x; i++) x ^= i * 31; return x; }
            __attribute__((noinline)) int beta(int x) { return alpha(x) * 7 + alpha(x + 1); }
            int main(int argc, char **argv) { return beta(argc); }
            """, flags: ["-O1"])
        let elf = try ElfFile(path: binary)
        let text = try #require(elf.loadSegments.first { $0.executable })
        let offset = { (address: UInt64) in address - text.virtualAddress + text.offset }
        let nm = try dir.nmAddresses(binary)
        var symbolizer = Symbolizer(modules: [Module(path: binary, inode: 1, pid: ProcessID(getpid()))])
        for name in ["alpha", "beta"] {
            let start = Frame(module: 0, address: offset(try #require(nm[name])))
            for inside in [start, Frame(module: 0, address: start.address + 3), Frame(module: 0, address: start.address + 9)] {
                #expect(symbolizer.functionStart(inside) == start, "\(name)+\(inside.address - start.address)")
                #expect(symbolizer.symbolize(symbolizer.functionStart(inside)).function == name)
            }
        }
        // Past the end of the text, no symbol: the frame stays as it is.
        let outside = Frame(module: 0, address: text.offset + text.fileSize + 0x100_000)
        #expect(symbolizer.functionStart(outside) == outside)
        #expect(symbolizer.functionStart(Frame(module: Frame.unknown, address: 42)) == Frame(module: Frame.unknown, address: 42))
    }

    @Test func unreadableModuleIsReportedNotFatal() {
        var symbolizer = Symbolizer(modules: [Module(path: "/nonexistent/libgone.so", inode: 1, pid: ProcessID(1))])
        let frame = symbolizer.symbolize(Frame(module: 0, address: 0x10))
        #expect(frame.function == "libgone.so+0x10")
        #expect(symbolizer.unreadableModules["/nonexistent/libgone.so"] != nil)
    }
}

/// A scratch directory for ELF files the tests build with the C compiler.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("perfprobe-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func compile(_ source: String, flags: [String]) throws -> String {
        let file = path + "/t.c"
        let output = path + "/t-\(abs(source.hashValue))"
        try source.write(toFile: file, atomically: true, encoding: .utf8)
        try run("/usr/bin/cc", ["-o", output, file] + flags)
        return output
    }

    /// Function addresses as `nm` reports them.
    func nmAddresses(_ binary: String) throws -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in try run("/usr/bin/nm", [binary]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 3, "tT".contains(fields[1]), let address = UInt64(fields[0], radix: 16) {
                result[String(fields[2])] = address
            }
        }
        return result
    }

    @discardableResult
    func run(_ tool: String, _ arguments: [String]) throws -> String {
        try Self.run(tool, arguments)
    }

    /// What `tool` prints; it must succeed.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool) \(arguments) failed")
        return String(decoding: data, as: UTF8.self)
    }
}

/// The largest ELF files on the machine: the Swift toolchain's. Symbols must
/// load once and resolve like nm (their speed is the benchmarks' business).
@Suite struct LargeBinaryTests {
    @Test func largestToolchainBinaryResolvesLikeNm() throws {
        // The toolchain in use: the folder of the swift-frontend on PATH.
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let frontend = try #require(path.split(separator: ":").map { $0 + "/swift-frontend" }.first { FileManager.default.fileExists(atPath: $0) },
                                    "no swift-frontend on PATH \(path)")
        let directory = URL(fileURLWithPath: frontend).resolvingSymlinksInPath().deletingLastPathComponent().path
        let candidates = try FileManager.default.contentsOfDirectory(atPath: directory).map { directory + "/" + $0 }
        let largest = try #require(candidates.max { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int ?? 0) ?? 0
            < (try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int ?? 0) ?? 0 })
        let size = (try FileManager.default.attributesOfItem(atPath: largest)[.size] as? Int) ?? 0
        #expect(size > 100_000_000)

        var symbolizer = Symbolizer(modules: [Module(path: largest, inode: 1, pid: ProcessID(getpid()))], settings: SymbolizerSettings(demangle: false))
        let nm = try TemporaryDirectory().nmAddresses(largest)
        // Aliases (C++ C1/C2 constructors, weak and strong names) share an address.
        let names = Dictionary(grouping: nm, by: \.value).mapValues { Set($0.map(\.key)) }
        let sample = nm.sorted { $0.key < $1.key }.enumerated().filter { $0.offset % max(nm.count / 500, 1) == 0 }.map(\.element)
        #expect(sample.count >= 400)
        let elf = try ElfFile(path: largest)
        // Frames hold file offsets: convert each nm address through the segments.
        let text = try #require(elf.loadSegments.first { $0.executable })
        let frames = sample.compactMap { _, address -> Frame? in
            guard address >= text.virtualAddress && address < text.virtualAddress + text.fileSize else { return nil }
            return Frame(module: 0, address: address - text.virtualAddress + text.offset)
        }
        // The profile's path: one pass over the table for all frames, then lookups.
        symbolizer.prepare(frames)
        for frame in frames {
            let address = frame.address - text.offset + text.virtualAddress
            let symbol = symbolizer.symbolize(frame)
            let expected = try #require(names[address])
            #expect(expected.contains(Demangler.withoutVersion(symbol.function)), "at \(String(address, radix: 16))")
        }
    }
}
