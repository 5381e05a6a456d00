import CPerfProbeUnwind

/// A module's file, mapped by the agent, and the facts about it that DWARF
/// unwinding needs: where its segments load and where its CFI search table is.
/// A class: the unwinder's segment tables point into its bytes, so it must
/// stay put for the run (it is used only on the sampling thread).
final class UnwindModule {
    private let elf: ElfFile
    let segments: [ElfFile.LoadSegment]
    let ehFrameHeader: UInt64?
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws(ElfError) {
        elf = try ElfFile(path: path)
        segments = elf.loadSegments
        ehFrameHeader = elf.ehFrameHeaderAddress
        bytes = elf.rawBytes
    }

    init(image: [UInt8], name: String) throws(ElfError) {
        elf = try ElfFile(bytes: image, name: name)
        segments = elf.loadSegments
        ehFrameHeader = elf.ehFrameHeaderAddress
        bytes = elf.rawBytes
    }

    /// The unwinder's view of this module as mapped by `mapping` (an
    /// executable mapping): every segment at its address in the target.
    func segments(mappedBy mapping: MemoryMapping) -> [CPerfProbeUnwind_Segment] {
        guard let text = segments.first(where: {
            $0.executable && mapping.fileOffset >= $0.offset && mapping.fileOffset - $0.offset < max($0.fileSize, 1)
        }), let base = bytes.baseAddress else { return [] }
        // Target address = virtual address + bias.
        let bias = mapping.start &- (text.virtualAddress &+ (mapping.fileOffset - text.offset))
        return segments.compactMap { segment in
            // The file's numbers: checked by subtraction, so a crafted header cannot wrap past the bytes.
            guard segment.offset <= UInt64(bytes.count), segment.fileSize <= UInt64(bytes.count) - segment.offset else { return nil }
            return CPerfProbeUnwind_Segment(
                start: segment.virtualAddress &+ bias, size: segment.fileSize,
                bytes: base.advanced(by: Int(segment.offset)).assumingMemoryBound(to: UInt8.self),
                code_start: mapping.start, code_end: mapping.end,
                eh_frame_hdr: ehFrameHeader.map { $0 &+ bias } ?? 0)
        }
    }
}
