import Foundation
import Testing
@testable import PerfProbeCore

/// DWARF CFI read from section bytes: a hand-built `.debug_frame` of the
/// shape Go's linker writes (version 3 CIE, no augmentation, absolute 8-byte
/// addresses), its FDE ranges, and its `.eh_frame` re-encoding read back.
@Suite struct CallFrameInformationTests {
    static func little(_ value: UInt64, _ bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    /// A length-prefixed entry.
    static func entry(_ body: [UInt8]) -> [UInt8] { little(UInt64(body.count), 4) + body }

    /// CIE: def_cfa rsp+8, RA (r16) at cfa-8; FDEs for [0x401000, 0x401040) and
    /// [0x401040, 0x401060), the second placed after a CIE that follows it.
    static let debugFrame: [UInt8] = {
        let cie = entry(little(0xffff_ffff, 4) + [3, 0, 0x01, 0x78, 0x10, 0x0c, 0x07, 0x08, 0x90, 0x01])
        let first = entry(little(0, 4) + little(0x40_1000, 8) + little(0x40, 8) + [0x41, 0x0e, 0x10])
        let second = entry(little(0, 4) + little(0x40_1040, 8) + little(0x20, 8))
        return cie + first + second
    }()

    @Test func debugFrameGivesEachFunctionsRange() {
        let cfi = CallFrameInformation(Self.debugFrame, kind: .debugFrame, address: 0)
        #expect(cfi.functions == [.init(start: 0x40_1000, end: 0x40_1040), .init(start: 0x40_1040, end: 0x40_1060)])
    }

    /// The header libunwind searches: its table sorted, each entry naming an
    /// FDE whose pc-relative start, decoded by the `.eh_frame` reader, is the
    /// entry's; the instructions carried over unchanged.
    @Test func ehFrameImageReadsBackAsTheSameFunctions() throws {
        let address: UInt64 = 0x60_0000
        let image = try #require(CallFrameInformation(Self.debugFrame, kind: .debugFrame, address: 0).ehFrameImage(at: address))
        #expect(Array(image.prefix(4)) == [1, 0x1b, 0x03, 0x3b])
        var reader = DwarfReader(image, at: 4)
        let readPointer = reader.fixed(4), readCount = reader.fixed(4)
        let framePointer = try #require(readPointer), count = try #require(readCount)
        #expect(count == 2)
        let frameStart = 12 + Int(count) * 8
        #expect(framePointer == UInt64(frameStart - 4))
        var starts: [UInt64] = []
        for _ in 0..<count {
            let readStart = reader.fixed(4), readFDE = reader.fixed(4)
            let start = Int32(truncatingIfNeeded: try #require(readStart))
            let fde = Int(try #require(readFDE))
            starts.append(address &+ UInt64(bitPattern: Int64(start)))
            // The FDE's own start, decoded as .eh_frame would: pcrel sdata8 after length and CIE pointer.
            var field = DwarfReader(image, at: fde + 8)
            let decoded = field.pointer(0x1c, fieldAddress: address &+ UInt64(fde + 8))
            #expect(decoded == starts.last)
        }
        #expect(starts == [0x40_1000, 0x40_1040])
        let frame = Array(image[frameStart...])
        let reread = CallFrameInformation(frame, kind: .ehFrame, address: address + UInt64(frameStart))
        #expect(reread.functions == [.init(start: 0x40_1000, end: 0x40_1040), .init(start: 0x40_1040, end: 0x40_1060)])
        #expect(Array(reread.descriptions[0].instructions) == [0x41, 0x0e, 0x10])
        let common = try #require(reread.commons[reread.descriptions[0].cie])
        #expect(Array(common.instructions.prefix(5)) == [0x0c, 0x07, 0x08, 0x90, 0x01])
        #expect(common.returnRegister == 16 && common.pointerEncoding == 0x1c)
    }

    /// An FDE too far from the image for the table's 32-bit offsets is left
    /// out rather than written wrong.
    @Test func functionsOutOfTableReachAreLeftOut() {
        let cfi = CallFrameInformation(Self.debugFrame, kind: .debugFrame, address: 0)
        #expect(cfi.ehFrameImage(at: 0x7f00_0000_0000) == nil)
    }

    /// Cut anywhere, lengths past the end, a CIE pointer into nowhere: no
    /// trap, and never a range the bytes do not give.
    @Test func truncatedAndCraftedSectionsAreSafe() {
        for cut in 0..<Self.debugFrame.count {
            let cfi = CallFrameInformation(Array(Self.debugFrame.prefix(cut)), kind: .debugFrame, address: 0)
            #expect(cfi.functions.allSatisfy { $0.start == 0x40_1000 || $0.start == 0x40_1040 })
            _ = cfi.ehFrameImage(at: 0x60_0000)
        }
        var crafted = Self.debugFrame
        crafted[0] = 0xfe // a length past the end
        #expect(CallFrameInformation(crafted, kind: .debugFrame, address: 0).functions.isEmpty)
        let orphan = Self.entry(Self.little(0x7fff_0000, 4) + Self.little(0x40_1000, 8) + Self.little(0x40, 8))
        #expect(CallFrameInformation(orphan, kind: .debugFrame, address: 0).functions.isEmpty)
        let wrapping = Self.debugFrame.prefix(18) + Self.entry(Self.little(0, 4) + Self.little(.max - 1, 8) + Self.little(0x40, 8))
        #expect(CallFrameInformation(Array(wrapping), kind: .debugFrame, address: 0).functions.isEmpty)
    }
}

/// Compressed sections (`objcopy --compress-debug-sections`, as Go's linker
/// writes them) are inflated; a compression header claiming more than the
/// cap, as a crafted file may, is refused before anything is inflated.
@Suite struct CompressedSectionTests {
    static let source = "int twice(int x) { return 2 * x; }\nint main(int c, char **v) { (void)v; return twice(c); }\n"

    @Test func compressedDebugFrameIsInflatedAndAHugeClaimRefused() throws {
        let scratch = try TemporaryDirectory()
        let plain = try scratch.compile(Self.source, flags: ["-g", "-fno-asynchronous-unwind-tables", "-O1"])
        let compressed = plain + ".z"
        try scratch.run("/usr/bin/objcopy", ["--compress-debug-sections=zlib", plain, compressed])
        let expected = try #require(try ElfFile(path: plain).section(named: ".debug_frame")).bytes
        #expect(!expected.isEmpty)
        #expect(try ElfFile(path: compressed).section(named: ".debug_frame")?.bytes == expected)

        // Elf64_Chdr at the section's file offset: ch_type, ch_reserved, ch_size (8 bytes at +8).
        let line = try #require(try scratch.run("/usr/bin/readelf", ["-SW", compressed]).split(separator: "\n").first { $0.contains(" .debug_frame ") })
        let fields = line.split(separator: "]").last!.split(separator: " ")
        let offset = try #require(Int(fields[3], radix: 16))
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: compressed)))
        bytes.replaceSubrange(offset + 8..<offset + 16, with: CallFrameInformationTests.little(1 << 40, 8))
        let forged = compressed + ".forged"
        try Data(bytes).write(to: URL(fileURLWithPath: forged))
        #expect(try ElfFile(path: forged).section(named: ".debug_frame") == nil)
        #expect(try ElfFile(path: compressed).section(named: ".debug_frame", limit: UInt64(expected.count - 1)) == nil)
    }
}
