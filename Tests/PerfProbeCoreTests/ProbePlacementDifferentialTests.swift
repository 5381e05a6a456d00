import Foundation
import Testing
@testable import PerfProbeCore

/// The x86 length decoder that places free probes, checked instruction by
/// instruction against `objdump -d` on every function the bundled
/// definitions probe in the real Debian libraries (`make test` installs
/// them): a wrong length would put an int3 in the middle of an instruction
/// of a production allocator.
@Suite struct ProbePlacementDifferentialTests {
    /// Placements as measured on these Debian packages (issue 14):
    /// glibc 2.36, libjemalloc2 5.3.0, libtcmalloc-minimal4 2.10, libmimalloc2.0 2.0.9.
    static let libraries: [(definition: String, path: String, placements: [String: Int])] = [
        ("glibc", "/usr/lib/x86_64-linux-gnu/libc.so.6", ["free": 3]),
        ("jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", ["free": 48, "sdallocx": 10]),
        ("tcmalloc", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", ["free": 10, "_ZdlPvm": 10]),
        ("mimalloc", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0", ["free": 6]),
    ]

    /// One disassembled instruction: its offset in the function, mnemonic and operands.
    struct Disassembled {
        var offset: Int
        var mnemonic: String
        var operands: String
    }

    static func objdump(_ library: String, from address: UInt64, bytes: Int) throws -> [Disassembled] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/objdump")
        process.arguments = ["-d", "--no-show-raw-insn", "--start-address=0x" + String(address, radix: 16),
                             "--stop-address=0x" + String(address + UInt64(bytes), radix: 16), library]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "   98930:\tendbr64" / "   98934:\ttest   %rdi,%rdi"
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2, parts[0].hasSuffix(":"),
                  let at = UInt64(parts[0].dropLast().trimmingCharacters(in: .whitespaces), radix: 16), at >= address else { return nil }
            let fields = parts[1].split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard let mnemonic = fields.first else { return nil }
            return Disassembled(offset: Int(at - address), mnemonic: String(mnemonic),
                                operands: fields.count > 1 ? fields[1].trimmingCharacters(in: .whitespaces) : "")
        }
    }

    /// The names objdump gives a register in any width (AT&T).
    static func names(of register: AllocatorDefinition.Register) -> Set<String> {
        switch register {
        case .rdi: ["%rdi", "%edi", "%di", "%dil"]
        case .rsi: ["%rsi", "%esi", "%si", "%sil"]
        case .rdx: ["%rdx", "%edx", "%dx", "%dl"]
        case .rcx: ["%rcx", "%ecx", "%cx", "%cl"]
        case .r8: ["%r8", "%r8d", "%r8w", "%r8b"]
        case .r9: ["%r9", "%r9d", "%r9w", "%r9b"]
        case .rax: ["%rax", "%eax", "%ax", "%al"]
        }
    }

    @Test(arguments: libraries.indices)
    func decoderAgreesWithObjdump(_ index: Int) throws {
        let (name, library, expected) = Self.libraries[index]
        let text = try String(contentsOf: HeapProbeTests.allocators.appendingPathComponent(name + ".alloc"), encoding: .utf8)
        let definition = try AllocatorDefinition.parse(text)
        let plan = try AllocatorProbePlan.make(definition: definition, libraryPath: library, openPath: library, mappings: [])
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: library)))
        var checked = 0
        for site in plan.sites {
            let start = Int(site.fileOffset)
            let code = file[start..<min(start + 64, file.count)]
            let listing = try Self.objdump(library, from: site.address, bytes: 64)
            let boundaries = Set(listing.map(\.offset))
            try #require(!listing.isEmpty, "objdump shows nothing at \(site.function.symbol)")
            // Every instruction the decoder reads starts and ends where objdump's do.
            var offset = 0
            for _ in 0..<8 {
                guard let instruction = X86Instruction.decode(code.dropFirst(offset)) else { break }
                #expect(boundaries.contains(offset), "\(name) \(site.function.symbol)+\(offset) is not an instruction start")
                offset += instruction.length
                checked += 1
                // objdump's listing ends 64 bytes in, mid-instruction perhaps.
                if offset >= 48 { break }
                #expect(boundaries.contains(offset), "\(name) \(site.function.symbol): decoded length ends at +\(offset), objdump: \(listing.prefix(6).map(\.offset))")
            }
            guard site.function.role == .free else { continue }
            let placement = site.placement
            if let wanted = expected[site.function.symbol] {
                #expect(placement == wanted, "\(name) \(site.function.symbol)+\(placement), measured before: +\(wanted)")
            }
            guard placement > 0 else { continue }
            let probed = try #require(listing.first { $0.offset == placement }, "\(name) \(site.function.symbol)+\(placement) is no instruction")
            // What the kernel emulates: relative jumps, jcc, calls, nop, push of a register.
            let emulated = probed.mnemonic.hasPrefix("j") || probed.mnemonic.hasPrefix("call") || probed.mnemonic.hasPrefix("nop")
                || (probed.mnemonic.hasPrefix("push") && probed.operands.hasPrefix("%"))
            #expect(emulated, "\(name) \(site.function.symbol)+\(placement): \(probed.mnemonic) \(probed.operands)")
            // The pointer register is not written before it (AT&T: the destination is the last operand).
            let pointer = try #require(site.function.pointer)
            for before in listing where before.offset < placement {
                let destination = before.operands.split(separator: ",").last.map(String.init) ?? ""
                #expect(!Self.names(of: pointer).contains(destination) || before.mnemonic.hasPrefix("test") || before.mnemonic.hasPrefix("cmp"),
                        "\(name) \(site.function.symbol)+\(before.offset): \(before.mnemonic) \(before.operands) writes the pointer")
                #expect(!before.mnemonic.hasPrefix("j") && !before.mnemonic.hasPrefix("call") && !before.mnemonic.hasPrefix("ret"),
                        "\(name) \(site.function.symbol)+\(before.offset): control flow before the probe")
            }
        }
        #expect(checked >= plan.sites.count, "\(name): \(checked) instructions compared")
    }
}
