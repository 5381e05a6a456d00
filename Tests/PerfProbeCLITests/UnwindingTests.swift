import Foundation
import PerfProbeCore
import Testing

/// Whole stacks from binaries without frame pointers, and names from real
/// binaries: checked on the samples built the way distributions build.
extension BinaryTests {
@Suite struct UnwindingTests {
    @Test func splitWithoutFramePointers() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/cpu_split_nofp", "5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        #expect(report.samples.total >= 4500)
        let heavy = Harness.inclusive(report, "heavy_path"), light = Harness.inclusive(report, "light_path")
        let share = Double(heavy) * 100 / Double(max(heavy + light, 1))
        #expect(abs(share - 70) <= 3, "heavy_path \(share)%")
        #expect(report.stackQuality.unwoundToRootPercent >= 99, "\(report.stackQuality)")
        #expect(report.sampling.unwind == "auto" && report.sampling.stackSizeBytes == 65528)
        #expect(try outcome.folded.contains("_start;__libc_start_main;__libc_start_call_main;main;heavy_path;shared_leaf "))
    }

    /// The kernel's frame-pointer walk cannot see heavy_path/light_path in this
    /// build: the contrast that shows the DWARF path is what finds them.
    @Test func framePointersAloneLoseTheCallers() throws {
        let outcome = try Harness.perfprobe(["run", "--unwind", "fp", "--frequency", "499", "--", Harness.samples + "/cpu_split_nofp", "1"])
        let report = try outcome.report
        let callers = Harness.inclusive(report, "heavy_path") + Harness.inclusive(report, "light_path")
        #expect(Double(callers) < 0.5 * Double(report.samples.total))
        #expect(report.stackQuality.framePointerPercent == 100)
    }

    @Test func threadsWithoutFramePointersUnwindToClone() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--per-thread", "--", Harness.samples + "/threads_nofp", "2"])
        #expect(outcome.status == 0)
        let report = try outcome.report
        try CPUProfileTests.expectThreadShares(report)
        #expect(report.stackQuality.unwoundToRootPercent >= 99)
        #expect(try outcome.folded.contains("alpha;__clone3;start_thread;start;alpha_work"))
    }

    @Test func cxxMethodInASharedLibrary() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/shapes", "1.5"])
        // The sample checks that every exception it threw was caught.
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let hot = try #require(report.hotspots.first)
        #expect(hot.function == "geometry::Polygon::area(int) const")
        #expect(hot.module == "libshapes.so")
        // The loop's own code, and std::vector's operator[] inlined into it (a frame of its own, by DWARF).
        #expect((ForeignProgramTests.symbolSelfShares(report)[hot.function] ?? 0) >= 90)
        #expect(try outcome.folded.contains(";geometry::Polygon::area(int) const;std::vector<geometry::Point, std::allocator<geometry::Point> >::operator[](unsigned long) const "))
        #expect(Harness.inclusive(report, "main") >= report.samples.total * 95 / 100)
    }

    @Test func rawNamesOnRequest() throws {
        let outcome = try Harness.perfprobe(["run", "--no-demangle", "--frequency", "499", "--", Harness.samples + "/shapes", "0.5"])
        #expect(try outcome.report.hotspots.first?.function == "_ZNK8geometry7Polygon4areaEi")
    }

    @Test func swiftMethodDemangled() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/swift_matrix", "1.5"])
        #expect(outcome.status == 0)
        let report = try outcome.report
        // The standard library's iterator, == and bounds check are inlined into it: frames of their own (addr2line -i agrees).
        let hot = try #require(report.hotspots.first { $0.function.hasPrefix("swift_matrix.Matrix.multiply(by: swift_matrix.Matrix)") },
                               "\(report.hotspots.prefix(3).map(\.function))")
        #expect(hot.module == "swift_matrix")
        #expect(hot.totalPercent >= 90)
        #expect((ForeignProgramTests.symbolSelfShares(report)[hot.function] ?? 0) >= 90)
    }

    /// No symbol table: functions are named by the file offset of their FDE
    /// (which `strip` keeps), so heavy_path and light_path — at the offsets
    /// nm gives them in the unstripped build — still split 70/30. Four
    /// seconds (~4,000 samples) make ±3 points 3.6 binomial σ: at 1.5 s it
    /// was 2.5 σ, and a correct profile failed about one run in a hundred.
    @Test func strippedBinaryGivesFunctionsByFileOffset() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/cpu_split_stripped", "4"])
        #expect(outcome.status == 0)
        let report = try outcome.report
        let own = report.profile.functions.filter { $0.module == "cpu_split_stripped" }
        #expect(own.allSatisfy { $0.function == "_start" || (!$0.symbolized && $0.function.hasPrefix("cpu_split_stripped+0x")) })
        let unstripped = Harness.samples + "/cpu_split_nofp"
        let fileOffset = try ForeignProgramTests.fileOffsets(of: unstripped)
        var named: [String: String] = [:]
        for line in try Harness.output(of: "/usr/bin/nm", [unstripped]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, ["heavy_path", "light_path"].contains(fields[2]), let address = UInt64(fields[0], radix: 16) else { continue }
            named[String(fields[2])] = "cpu_split_stripped+0x" + String(fileOffset(address), radix: 16)
        }
        let heavy = Harness.inclusive(report, try #require(named["heavy_path"])), light = Harness.inclusive(report, try #require(named["light_path"]))
        let share = Double(heavy) * 100 / Double(max(heavy + light, 1))
        #expect(abs(share - 70) <= 3, "heavy_path \(share)% (\(heavy) of \(heavy + light))")
        // .eh_frame survives strip, so stacks stay whole, down to the entry point.
        #expect(report.stackQuality.unwoundToRootPercent >= 99)
        #expect(try outcome.folded.contains("_start;__libc_start_main;__libc_start_call_main;cpu_split_stripped+0x"))
        #expect(report.stackQuality.modulesWithoutSymbols.contains("cpu_split_stripped"))
    }

    @Test func deepRecursionIsNotCutAt127Frames() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "499", "--", Harness.samples + "/deep_recursion", "1", "300"])
        #expect(outcome.status == 0)
        let report = try outcome.report
        let recurse = try #require(report.profile.functions.firstIndex { $0.function == "recurse" })
        let deepest = report.profile.stacks.map { stack in stack.frames.filter { $0 == recurse }.count }.max() ?? 0
        #expect(deepest == 300)
        let whole = report.profile.stacks.filter { $0.frames.filter { $0 == recurse }.count == 300 }.reduce(0) { $0 + $1.count }
        #expect(Double(whole) >= 0.95 * Double(report.samples.total))
        #expect(report.stackQuality.unwoundToRootPercent >= 95)
    }

    @Test func jitCodeNamedByPerfMap() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "499", "--", Harness.samples + "/jit", "1"])
        #expect(outcome.status == 0)
        let hot = try #require(try outcome.report.hotspots.first)
        #expect(hot.function == "jit_spin_loop" && hot.module == "[jit]")
    }

    @Test func libcNamesFromItsDebugFileByBuildID() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "499", "--", Harness.samples + "/cpu_split_nofp", "0.5"])
        // __libc_start_call_main is a local symbol: only libc6-dbg's file has it.
        #expect(try outcome.report.profile.functions.contains { $0.function == "__libc_start_call_main" && $0.module == "libc.so.6" })
    }

    @Test func symbolsFromADebugLinkFile() throws {
        let dir = Harness.scratch()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let binary = dir + "/linked"
        try FileManager.default.copyItem(atPath: Harness.samples + "/cpu_split_nofp", toPath: binary)
        for arguments in [["--only-keep-debug", binary, binary + ".debug"], ["--strip-all", binary],
                          ["--add-gnu-debuglink=\(binary).debug", binary]] {
            try Harness.tool("/usr/bin/objcopy", arguments)
        }
        let outcome = try Harness.perfprobe(["run", "--frequency", "499", "--", binary, "0.5"])
        let report = try outcome.report
        #expect(report.profile.functions.contains { $0.function == "heavy_path" && $0.module == "linked" })
    }

    @Test func deletedBinaryReadThroughMapFiles() throws {
        let dir = Harness.scratch()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let binary = dir + "/doomed_copy"
        try FileManager.default.copyItem(atPath: Harness.samples + "/cpu_split_nofp", toPath: binary)
        let target = Process()
        target.executableURL = URL(fileURLWithPath: binary)
        target.arguments = ["0"]
        try target.run()
        defer { Harness.stop(target) }
        try Harness.waitUntilLoaded(target)
        try FileManager.default.removeItem(atPath: binary)
        let outcome = try Harness.perfprobe(["attach", "--frequency", "499", "--duration", "1", String(target.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        #expect(report.profile.functions.contains { $0.function == "heavy_path" && $0.module == "doomed_copy" })
        #expect(report.stackQuality.unwoundToRootPercent >= 99)
    }

    /// edges lives in PLT stubs, on the first instructions of a library
    /// function and in a signal handler: every stack must still be whole.
    @Test func pltStubsFunctionEntriesAndSignalFrames() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/edges", "2"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        #expect(report.stackQuality.unwoundToRootPercent >= 99)
        #expect(Harness.inclusive(report, "main") * 100 >= report.samples.total * 99)
        #expect(report.profile.functions.contains { $0.function == "edge_tiny@plt" && $0.module == "edges" })
        #expect(report.profile.functions.contains { $0.function == "edge_tiny" && $0.module == "libedges.so" })
        // The handler runs on top of the frame the signal interrupted.
        let folded = try outcome.folded
        #expect(folded.contains(";main;edge_calls;__restore_rt;edge_handler "))
        // PLT samples used to be credited to the symbols before .plt.
        #expect(!report.profile.functions.contains { $0.module == "edges" && ["_init", "frame_dummy"].contains($0.function) })
        #expect(report.stackQuality.unsymbolizedFramesPercent < 1)
    }

    /// A stack copy too short for 100 frames: DWARF stops at its end and the
    /// kernel's frame-pointer chain, which agrees with it, carries on.
    @Test func shortStackCopyIsSplicedWithFramePointers() throws {
        let outcome = try Harness.perfprobe(["run", "--stack-size", "1024", "--frequency", "499", "--",
                                             Harness.samples + "/deep_recursion_fp", "1", "100"])
        #expect(outcome.status == 0)
        let report = try outcome.report
        #expect(report.stackQuality.splicedPercent >= 95, "\(report.stackQuality)")
        let recurse = try #require(report.profile.functions.firstIndex { $0.function == "recurse" })
        let whole = report.profile.stacks.filter { $0.frames.filter { $0 == recurse }.count == 100 }.reduce(0) { $0 + $1.count }
        #expect(Double(whole) >= 0.95 * Double(report.samples.total))
        // --unwind dwarf alone stops at the copy's end.
        let dwarf = try Harness.perfprobe(["run", "--unwind", "dwarf", "--stack-size", "1024", "--frequency", "499", "--",
                                           Harness.samples + "/deep_recursion_fp", "0.5", "100"])
        #expect(try dwarf.report.stackQuality.truncatedPercent >= 95)
    }

    @Test func stackSizeBounds() throws {
        for bad in ["4", "65536", "1001"] {
            ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--stack-size", bad, "--", "true"]), mentioning: "--stack-size")
        }
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--unwind", "lbr", "--", "true"]), mentioning: "lbr")
    }
}
}
