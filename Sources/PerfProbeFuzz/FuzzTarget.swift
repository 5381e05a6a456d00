import FoundationEssentials
@testable import PerfProbeCore

/// Every parser of bytes perfprobe does not control, as one entry point per
/// kind of input. Built with libFuzzer (`make fuzz`: -sanitize=fuzzer,address
/// -DFUZZING, the target named by PERFPROBE_FUZZ_TARGET) it is fuzzed; built
/// plainly it replays inputs (`perfprobe-fuzz TARGET FILE...`), which is how
/// the test suite runs the committed corpora and crash inputs.
enum FuzzTarget: String, CaseIterable {
    case elf, perfRecords = "perf-records", proc, perfMap = "perf-map", http, demangle, allocator, report, heapMessage = "heap-message"
    case callFrames = "call-frames", dwarf, inlineTree = "inline-tree"

    func run(_ bytes: [UInt8]) {
        switch self {
        case .elf:
            guard let elf = try? ElfFile(bytes: bytes, name: "fuzz") else { return }
            let symbols = elf.functionSymbols
            _ = elf.loadSegments
            _ = elf.buildID
            _ = elf.debugLink
            _ = elf.symbolCount
            _ = elf.ehFrameHeaderAddress
            _ = elf.callFrameInformation?.functions
            _ = elf.programEntry
            _ = elf.exportedFunctions(named: ["malloc", "free"])
            _ = elf.functionSymbols(covering: symbols.prefix(64).map { $0.address &+ 1 } + [0, .max])
        case .perfRecords:
            for layout in [SampleLayout.callchain, .userStack(64)] {
                _ = PerfRecordParser(layout: layout).parse(bytes)
            }
            // The allocator probes' and --off-cpu's ring records carry the target's registers and stack too.
            _ = ProbeRecord.parse(bytes)
            _ = SwitchRecord.parse(bytes)
        case .proc:
            let text = Substring(decoding: bytes, as: UTF8.self)
            _ = MemoryMapping.parseProcMaps(text)
            _ = ProcessStat.parse(text)
            _ = KeyValueFile.parse(text)
            _ = KeyValueFile.parse(bytes, keys: ["VmHWM", "Threads"])
            _ = KernelSymbols(bytes).lookup(0xffff_ffff_8100_0000)
            _ = KernelSymbols(bytes, covering: [0, 0xffff_ffff_8100_0000, .max]).lookup(0xffff_ffff_8100_0000)
            _ = OnlineCPUs.parse(String(text))
            _ = TracepointFormat.parse(text)
            _ = KernelTypes(bytes)?.member(["task_struct", "se", "sum_exec_runtime"])
            _ = CgroupDirectory.mounts(mountinfo: text)
            _ = CgroupDirectory.unifiedName(procCgroup: text)
        case .perfMap:
            let (entries, _) = PerfMapFile.parseLines(bytes[...])
            _ = PerfMapFile.table(entries).lookup(entries.first?.address ?? 0)
            _ = entries.map { SymbolName.sanitized($0.name) }
        case .http:
            _ = HTTPRequest.parse(bytes)
        case .demangle:
            let name = String(decoding: bytes, as: UTF8.self)
            _ = SymbolName.sanitized(Demangler.demangle(name))
            _ = RustV0Demangler.demangle("_R" + name)
            _ = Demangler.rustLegacy(name)
        case .allocator:
            _ = try? AllocatorDefinition.parse(String(decoding: bytes, as: UTF8.self))
            _ = try? PhaseSchedule.parse(String(decoding: bytes, as: UTF8.self))
        case .report:
            guard let report = try? JSONReportFormat.decode(Data(bytes)).validated() else { return }
            for format in ReportFormats.all { _ = try? format.render(report) }
            _ = SummaryText.render(report, outputDirectory: nil)
            // A baseline's figures go through the gate's tests and the diff, and a repeat's merge.
            _ = GateSettings.regressions(ProfileComparison(base: report, new: report), limit: 1)
            _ = FlameGraphFormat.difference(base: report, new: report)
            _ = ProfileReport.merging([report, report])
        case .heapMessage:
            bytes.withUnsafeBytes { _ = HeapRecord.parseBatch($0) }
        case .dwarf:
            // An ELF image's DWARF through libdw and the walks over it, at addresses its units claim.
            guard let file = DwarfFile(bytes: bytes), let info = ModuleDebugInfo(file, lines: true) else { return }
            for start in info.unitStarts.prefix(16) {
                for offset: UInt64 in [0, 1, 7, 64, 255] {
                    _ = info.levels(at: start &+ offset)
                    _ = info.lineStart(at: start &+ offset)
                }
            }
        case .inlineTree:
            // 9 bytes an entry: start (4), length (2), parent (2, signed), inlined (1).
            var entries: [InlineTree.Entry] = []
            var rest = bytes[...]
            while rest.count >= 9, entries.count < 4096 {
                let field = Array(rest.prefix(9))
                rest = rest.dropFirst(9)
                let start = field[0..<4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let length = UInt64(field[4]) << 8 | UInt64(field[5])
                let parent = Int(Int16(bitPattern: UInt16(field[6]) << 8 | UInt16(field[7])))
                entries.append(.init(ranges: [start..<start + length], parent: parent, inlined: field[8] & 1 == 1))
            }
            let tree = InlineTree(entries)
            for segment in tree.segments.prefix(512) { _ = tree.chain(at: segment.range.lowerBound) }
        case .callFrames:
            for kind in [CallFrameInformation.Kind.ehFrame, .debugFrame] {
                let cfi = CallFrameInformation(bytes, kind: kind, address: 0x40_0000)
                _ = cfi.functions
                // The re-encoding must read back: the header's table, then .eh_frame.
                guard let image = cfi.ehFrameImage(at: 0x80_0000) else { continue }
                var header = DwarfReader(image, at: 8)
                let count = Int(header.fixed(4) ?? 0)
                _ = CallFrameInformation(Array(image.dropFirst(12 + count * 8)), kind: .ehFrame, address: 0x80_0000 + UInt64(12 + count * 8)).functions
            }
        }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTarget.selected.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver, called from the executable's entry point: SwiftPM
/// makes `main` an alias of `perfprobe_fuzz_main`, so libFuzzer's own main is not the one that runs.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("perfprobe_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOne(data, size) }
}

extension FuzzTarget {
    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["PERFPROBE_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            StandardStreams.error("PERFPROBE_FUZZ_TARGET must be one of: \(allCases.map(\.rawValue).joined(separator: ", "))\n")
            StandardStreams.exit(2)
        }
        return target
    }()
}
#else
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            StandardStreams.error("usage: perfprobe-fuzz TARGET FILE|DIR... (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))\n")
            StandardStreams.exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            guard FileSystem.exists(path) else { continue }
            let files = FileSystem.isDirectory(path)
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run(Array(data))
                count += 1
            }
        }
        print("\(name): \(count) inputs replayed")
    }
}
#endif
