/// A module's DWARF call frame information (`.eh_frame` or `.debug_frame`),
/// parsed from the file's bytes: every FDE's code range and, for
/// `.debug_frame`, the same CIEs and FDEs re-encoded in `.eh_frame` form
/// behind an `.eh_frame_hdr` search table, the form libunwind searches (the
/// Debian build of libunwind reads no `.debug_frame`). Go binaries carry
/// their CFI only there; stripped files keep `.eh_frame`, whose FDEs are the
/// only record left of where their functions begin and end.
///
/// Pure: the bytes are the file's and untrusted. Every offset and length is
/// checked by subtraction against what remains, sums wrap only where they
/// are addresses, and entries are capped.
public struct CallFrameInformation: Sendable {
    public enum Kind: Sendable { case ehFrame, debugFrame }

    /// One function's code as an FDE gives it, in the file's virtual addresses.
    public struct FunctionRange: Hashable, Sendable {
        public var start: UInt64
        public var end: UInt64
    }

    struct CommonEntry {
        var version: UInt8
        var codeAlignment: ArraySlice<UInt8> // ULEB128, as written
        var dataAlignment: ArraySlice<UInt8> // SLEB128, as written
        var returnRegister: UInt64
        var pointerEncoding: UInt8
        var hasAugmentationData: Bool
        var instructions: ArraySlice<UInt8>
        /// False for augmentations this reader does not know (the FDEs' layout is then unknown).
        var understood: Bool
    }

    struct DescriptionEntry {
        var cie: Int // offset of its CIE in the section
        var start: UInt64
        var length: UInt64
        var instructions: ArraySlice<UInt8>
    }

    static let maximumEntries = 4_000_000

    let commons: [Int: CommonEntry]
    let descriptions: [DescriptionEntry]

    /// Parses `bytes`, the section loaded at `address` (pc-relative pointers
    /// of `.eh_frame` are relative to it). What cannot be read is skipped:
    /// an entry of unknown layout, or the rest after a malformed length.
    public init(_ bytes: [UInt8], kind: Kind, address: UInt64) {
        var commons: [Int: CommonEntry] = [:]
        var descriptions: [DescriptionEntry] = []
        var offset = 0
        while bytes.count - offset >= 4, commons.count + descriptions.count < Self.maximumEntries {
            var reader = DwarfReader(bytes, at: offset)
            guard let length = reader.u32() else { break }
            if length == 0 {
                // .eh_frame's terminator; a zero-length entry of .debug_frame is padding.
                if kind == .ehFrame { break }
                offset += 4
                continue
            }
            // 64-bit DWARF (0xffffffff) is not emitted for these sections by the toolchains we read.
            guard length != 0xffff_ffff, length >= 4, Int(length) <= bytes.count - offset - 4 else { break }
            let end = offset + 4 + Int(length)
            defer { offset = end }
            let idPosition = reader.position
            guard let id = reader.u32() else { break }
            var body = DwarfReader(bytes, at: reader.position, end: end)
            let isCommon = kind == .ehFrame ? id == 0 : id == 0xffff_ffff
            if isCommon {
                if let common = Self.parseCommon(&body, kind: kind) { commons[offset] = common }
                continue
            }
            let cie: Int
            switch kind {
            case .ehFrame:
                guard Int(id) <= idPosition else { continue }
                cie = idPosition - Int(id)
            case .debugFrame:
                cie = Int(id)
            }
            guard let common = commons[cie] ?? Self.commonAt(cie, in: bytes, kind: kind), common.understood,
                  let start = body.pointer(common.pointerEncoding, fieldAddress: address &+ UInt64(body.position)),
                  let length = body.pointer(common.pointerEncoding & 0x0f, fieldAddress: 0) else { continue }
            if common.hasAugmentationData {
                guard let skip = body.uleb(), skip <= UInt64(body.remaining), body.skip(Int(skip)) else { continue }
            }
            commons[cie] = common
            descriptions.append(DescriptionEntry(cie: cie, start: start, length: length,
                                                 instructions: body.rest))
        }
        self.commons = commons
        self.descriptions = descriptions
    }

    /// A CIE that follows its FDEs (legal in `.debug_frame`).
    private static func commonAt(_ offset: Int, in bytes: [UInt8], kind: Kind) -> CommonEntry? {
        guard offset >= 0, bytes.count - offset >= 8 else { return nil }
        var reader = DwarfReader(bytes, at: offset)
        guard let length = reader.u32(), length != 0xffff_ffff, length >= 4, Int(length) <= bytes.count - offset - 4,
              let id = reader.u32(), id == (kind == .ehFrame ? 0 : 0xffff_ffff) else { return nil }
        var body = DwarfReader(bytes, at: reader.position, end: offset + 4 + Int(length))
        return parseCommon(&body, kind: kind)
    }

    private static func parseCommon(_ body: inout DwarfReader, kind: Kind) -> CommonEntry? {
        guard let version = body.u8(), [1, 3, 4].contains(version), let augmentation = body.cString() else { return nil }
        if kind == .debugFrame && version == 4 {
            // address_size and segment_selector_size: only flat 64-bit code is read.
            guard body.u8() == 8, body.u8() == 0 else { return nil }
        }
        let codeStart = body.position
        guard body.uleb() != nil else { return nil }
        let dataStart = body.position
        guard body.sleb() != nil else { return nil }
        let codeAlignment = body.bytes[codeStart..<dataStart], dataAlignment = body.bytes[dataStart..<body.position]
        guard let returnRegister = version == 1 ? body.u8().map(UInt64.init) : body.uleb() else { return nil }
        var encoding: UInt8 = 0 // DW_EH_PE_absptr
        var understood = true
        let hasData = augmentation.first == UInt8(ascii: "z")
        if hasData {
            guard let size = body.uleb(), size <= UInt64(body.remaining) else { return nil }
            var data = DwarfReader(body.bytes, at: body.position, end: body.position + Int(size))
            for letter in augmentation.dropFirst() {
                switch letter {
                case UInt8(ascii: "R"): guard let value = data.u8() else { return nil }; encoding = value
                case UInt8(ascii: "L"): guard data.u8() != nil else { return nil }
                case UInt8(ascii: "P"):
                    guard let personality = data.u8(), data.pointer(personality & 0x7f, fieldAddress: 0) != nil else { return nil }
                case UInt8(ascii: "S"), UInt8(ascii: "B"): break
                default: understood = false
                }
            }
            _ = body.skip(Int(size))
        } else if !augmentation.isEmpty {
            understood = false
        }
        return CommonEntry(version: version, codeAlignment: codeAlignment, dataAlignment: dataAlignment,
                           returnRegister: returnRegister, pointerEncoding: encoding, hasAugmentationData: hasData,
                           instructions: body.rest, understood: understood)
    }

    /// Every FDE's code range, sorted by start; empty and wrapping ranges left out.
    public var functions: [FunctionRange] {
        let ranges = descriptions.compactMap { entry -> FunctionRange? in
            let (end, overflow) = entry.start.addingReportingOverflow(entry.length)
            return entry.length > 0 && !overflow ? FunctionRange(start: entry.start, end: end) : nil
        }
        var seen = Set<UInt64>()
        return ranges.sorted { ($0.start, $0.end) < ($1.start, $1.end) }.filter { seen.insert($0.start).inserted }
    }

    /// The CIEs and FDEs in `.eh_frame` form behind an `.eh_frame_hdr`, as
    /// one image to be read at virtual address `address` (FDE pointers are
    /// pc-relative and the table relative to the header, so only `address`
    /// needs to be chosen near the code). nil when no FDE fits the table's
    /// 32-bit offsets.
    public func ehFrameImage(at address: UInt64) -> [UInt8]? {
        let usable = descriptions.filter { entry in
            commons[entry.cie].map { $0.returnRegister <= 255 } == true
                && Int32(exactly: Int64(bitPattern: entry.start &- address)) != nil
        }
        // Layout: the header, its search table, then the CIEs and FDEs.
        let frameStart = 12 + usable.count * 8
        var frame: [UInt8] = []
        var written: [Int: Int] = [:] // CIE offset in the section -> in `frame`
        var table: [(start: Int32, fde: Int32)] = []
        func pad() { while frame.count % 4 != 0 { frame.append(0) } } // DW_CFA_nop
        func patchLength(from start: Int) {
            let length = UInt32(truncatingIfNeeded: frame.count - start - 4)
            for i in 0..<4 { frame[start + i] = UInt8(truncatingIfNeeded: length >> (8 * i)) }
        }
        for entry in usable {
            let common = commons[entry.cie]!
            if written[entry.cie] == nil {
                let start = frame.count
                written[entry.cie] = start
                frame += [0, 0, 0, 0, 0, 0, 0, 0, 1] + Array("zR".utf8) + [0]
                frame += common.codeAlignment + common.dataAlignment
                frame += [UInt8(common.returnRegister), 1, 0x1c] // augmentation data: pcrel | sdata8
                frame += common.instructions
                pad()
                patchLength(from: start)
            }
            let start = frame.count
            guard let relativeStart = Int32(exactly: Int64(bitPattern: entry.start &- address)),
                  let fdeOffset = Int32(exactly: frameStart + start) else { break }
            let locationAddress = address &+ UInt64(frameStart + start + 8)
            frame += [0, 0, 0, 0]
            frame += Self.little(UInt64(start + 4 - written[entry.cie]!), bytes: 4)
            frame += Self.little(entry.start &- locationAddress, bytes: 8)
            frame += Self.little(entry.length, bytes: 8)
            frame.append(0) // augmentation data length
            frame += entry.instructions
            pad()
            patchLength(from: start)
            table.append((relativeStart, fdeOffset))
        }
        guard !table.isEmpty, table.count == usable.count, Int32(exactly: frameStart + frame.count) != nil else { return nil }
        table.sort { $0.start < $1.start }
        // version; eh_frame_ptr pcrel sdata4; fde_count udata4; table datarel sdata4.
        var image: [UInt8] = [1, 0x1b, 0x03, 0x3b]
        image += Self.little(UInt64(frameStart - 4), bytes: 4)
        image += Self.little(UInt64(table.count), bytes: 4)
        for entry in table {
            image += Self.little(UInt64(UInt32(bitPattern: entry.start)), bytes: 4)
            image += Self.little(UInt64(UInt32(bitPattern: entry.fde)), bytes: 4)
        }
        return image + frame
    }

    private static func little(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}

/// Little-endian DWARF reads (fixed, LEB128, DW_EH_PE pointers) from
/// untrusted bytes, up to `end`: nil past it. Slices share the bytes.
struct DwarfReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], at position: Int, end: Int? = nil) {
        self.bytes = bytes
        self.end = min(end ?? bytes.count, bytes.count)
        self.position = min(position, self.end)
    }

    var remaining: Int { end - position }
    /// The bytes not read yet.
    var rest: ArraySlice<UInt8> { bytes[position..<end] }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remaining else { return false }
        position += count
        return true
    }

    mutating func fixed(_ count: Int) -> UInt64? {
        guard count <= remaining else { return nil }
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(bytes[position + i]) << (8 * i) }
        position += count
        return value
    }

    mutating func u8() -> UInt8? { fixed(1).map { UInt8($0) } }
    mutating func u32() -> UInt32? { fixed(4).map { UInt32($0) } }

    mutating func cString() -> ArraySlice<UInt8>? {
        guard let zero = bytes[position..<end].firstIndex(of: 0) else { return nil }
        defer { position = zero + 1 }
        return bytes[position..<zero]
    }

    mutating func uleb() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = u8() {
            if shift < 64 { value |= UInt64(byte & 0x7f) << shift }
            shift += 7
            if byte & 0x80 == 0 { return value }
        }
        return nil
    }

    mutating func sleb() -> Int64? {
        var value: Int64 = 0
        var shift: Int64 = 0
        while let byte = u8() {
            if shift < 64 { value |= Int64(byte & 0x7f) << shift }
            shift += 7
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 { value |= -1 << shift }
                return value
            }
        }
        return nil
    }

    /// A DW_EH_PE-encoded pointer: absolute or pc-relative (to
    /// `fieldAddress`), in any of the fixed and LEB128 formats.
    mutating func pointer(_ encoding: UInt8, fieldAddress: UInt64) -> UInt64? {
        let value: UInt64?
        switch encoding & 0x0f {
        case 0x00, 0x04: value = fixed(8)
        case 0x01: value = uleb()
        case 0x02: value = fixed(2)
        case 0x03: value = fixed(4)
        case 0x09: value = sleb().map { UInt64(bitPattern: $0) }
        case 0x0a: value = fixed(2).map { UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: $0))) }
        case 0x0b: value = fixed(4).map { UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: $0))) }
        case 0x0c: value = fixed(8)
        default: return nil
        }
        switch encoding & 0x70 {
        case 0x00: return value
        case 0x10: return value.map { $0 &+ fieldAddress }
        default: return nil // datarel, textrel, funcrel: not used for FDE ranges by the linkers we read
        }
    }
}

extension ElfFile {
    /// The DWARF call frame information: `.eh_frame`, or `.debug_frame`
    /// where there is none (Go), parsed.
    var callFrameInformation: CallFrameInformation? {
        if let section = section(named: ".eh_frame"), !section.bytes.isEmpty {
            return CallFrameInformation(section.bytes, kind: .ehFrame, address: section.address)
        }
        if let section = section(named: ".debug_frame"), !section.bytes.isEmpty {
            return CallFrameInformation(section.bytes, kind: .debugFrame, address: section.address)
        }
        return nil
    }
}
