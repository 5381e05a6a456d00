import Foundation
import Testing

/// The layout is the pipeline (README, "How it works"): a stage's files
/// name no type declared by a stage after it. Read from the sources, so a
/// backward dependency fails here rather than in a reader's head.
@Suite struct LayeringTests {
    static let stages = ["Shared", "System", "Target", "Sampling", "Unwinding", "Heap", "Symbolization",
                         "Aggregation", "Reports", "Gates", "Session", "Sidecar", "Live"]

    @Test func dependenciesPointOneWayAlongThePipeline() throws {
        let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/PerfProbeCore")
        let folders = try FileManager.default.contentsOfDirectory(atPath: core.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(folders == Self.stages.sorted(), "a folder outside the pipeline's order")
        var files: [(stage: Int, name: String, text: String)] = []
        for (stage, folder) in Self.stages.enumerated() {
            let directory = core.appendingPathComponent(folder)
            guard let walker = FileManager.default.enumerator(atPath: directory.path) else { continue }
            for case let path as String in walker where path.hasSuffix(".swift") {
                let text = try String(contentsOf: directory.appendingPathComponent(path), encoding: .utf8)
                // Comments may name anything.
                let code = text.split(separator: "\n").map { $0.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
                files.append((stage, folder + "/" + path, code.joined(separator: "\n")))
            }
        }
        let declaration = /(?m)^(?:public |private |fileprivate |internal |final |indirect )*(?:struct|enum|class|protocol|typealias|actor)\s+([A-Z]\w*)/
        var declaredIn: [String: Int] = [:]
        for file in files {
            for match in file.text.matches(of: declaration) where declaredIn[String(match.1)] == nil {
                declaredIn[String(match.1)] = file.stage
            }
        }
        #expect(declaredIn.count > 100, "\(declaredIn.count) types found")
        var backward: [String] = []
        for file in files {
            let words = Set(file.text.split { !$0.isLetter && !$0.isNumber && $0 != "_" }.map(String.init))
            for word in words {
                if let stage = declaredIn[word], stage > file.stage {
                    backward.append("\(file.name) uses \(word) of \(Self.stages[stage])")
                }
            }
        }
        #expect(backward.isEmpty, "\(backward.sorted().joined(separator: "\n"))")
    }

    /// One Swift file per C library or kernel interface (README, "Calling
    /// C"): only these import libc or call a function of the C shims and
    /// libelf. Other files may use the shims' types and constants.
    static let wrappers: [String: String] = [
        "System/Syscalls.swift": "the kernel's system calls and the memory it shares",
        "System/Socket.swift": "sockets",
        "System/Zlib.swift": "zlib",
        "System/ElfFile.swift": "libelf",
        "System/DwarfFile.swift": "libdw (and the libelf handle it reads through)",
        "System/Zstd.swift": "zstd",
        "System/CursesScreen.swift": "ncurses (the screen, and terminfo for the status line)",
        "Unwinding/UnwindAddressSpace.swift": "libunwind",
        "Symbolization/Demangler.swift": "the Swift and C++ runtimes' demanglers",
        "Heap/HeapRing.swift": "the heap probe's ring (probes/heapprobe)",
        "Shared/Locked.swift": "pthread mutexes",
        "Shared/Printf.swift": "printf",
        "Shared/Statistics.swift": "libm (erfc, lgamma, exp, log)",
    ]

    @Test func onlyTheWrappersCallC() throws {
        let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/PerfProbeCore")
        let call = /CPerfProbe(?:Unwind)?_[a-z]\w*\(|\b(?:g?elf|elf64)_[a-z_]+\(|^import (?:Glibc|CLibElf)$/.anchorsMatchLineEndings()
        var callers: Set<String> = []
        for folder in Self.stages {
            guard let walker = FileManager.default.enumerator(atPath: core.appendingPathComponent(folder).path) else { continue }
            for case let path as String in walker where path.hasSuffix(".swift") {
                let text = try String(contentsOf: core.appendingPathComponent(folder + "/" + path), encoding: .utf8)
                if text.contains(call) { callers.insert(folder + "/" + path) }
            }
        }
        #expect(callers.subtracting(Self.wrappers.keys).isEmpty, "C called outside the wrappers: \(callers.subtracting(Self.wrappers.keys).sorted())")
        #expect(callers == Set(Self.wrappers.keys), "wrappers that call no C: \(Set(Self.wrappers.keys).subtracting(callers).sorted())")
    }
}
