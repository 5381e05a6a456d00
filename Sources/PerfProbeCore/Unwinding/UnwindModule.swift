import CPerfProbeUnwind

/// A module's file, mapped by the agent, and the facts about it that DWARF
/// unwinding needs: where its segments load and where its CFI search table is.
/// A class: the unwinder's segment tables point into its bytes, so it must
/// stay put for the run (it is used only on the sampling thread).
final class UnwindModule {
    let file: SharedElfFile
    let segments: [ElfFile.LoadSegment]
    var bytes: UnsafeRawBufferPointer { file.bytes }
    /// The virtual address of the search table libunwind reads: the file's
    /// `.eh_frame_hdr`, or that of `synthetic`.
    let searchTable: UInt64?
    /// A module with only `.debug_frame` (Go): its CFI re-encoded as
    /// `.eh_frame` with a header, placed at a virtual address of the
    /// module's own just past its last segment, where no code or data of
    /// the module is (the table's 32-bit offsets must reach the code).
    private let synthetic: (address: UInt64, image: UnsafeMutableRawBufferPointer)?

    /// `file`: the module's file, shared with the symbolizer.
    init(file: SharedElfFile) {
        self.file = file
        (segments, searchTable, synthetic) = file.read { elf in
            let segments = elf.loadSegments
            let (table, synthetic) = Self.searchTable(elf, segments: segments)
            return (segments, table, synthetic)
        }
    }

    private static func searchTable(_ elf: borrowing ElfFile, segments: [ElfFile.LoadSegment])
        -> (UInt64?, (address: UInt64, image: UnsafeMutableRawBufferPointer)?) {
        if let header = elf.ehFrameHeaderAddress { return (header, nil) }
        guard let section = elf.section(named: ".debug_frame"), !section.bytes.isEmpty, let address = addressPast(segments),
              let image = CallFrameInformation(section.bytes, kind: .debugFrame, address: section.address).ehFrameImage(at: address)
        else { return (nil, nil) }
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: image.count, alignment: 16)
        memory.copyBytes(from: image)
        return (address, (address, memory))
    }

    deinit {
        synthetic?.image.deallocate()
    }

    /// A page past the end of the module's highest segment in memory.
    private static func addressPast(_ segments: [ElfFile.LoadSegment]) -> UInt64? {
        var end: UInt64 = 0
        for segment in segments {
            let (segmentEnd, overflow) = segment.virtualAddress.addingReportingOverflow(max(segment.fileSize, segment.memorySize))
            guard !overflow else { return nil }
            end = max(end, segmentEnd)
        }
        let (aligned, overflow) = end.addingReportingOverflow(2 * 4096 - 1)
        return overflow ? nil : aligned & ~4095
    }

    /// The unwinder's view of this module as mapped by `mapping` (an
    /// executable mapping): every segment at its address in the target, and
    /// the synthetic CFI (`isSynthetic`) where there is one.
    func segments(mappedBy mapping: MemoryMapping) -> [(segment: CPerfProbeUnwind_Segment, isSynthetic: Bool)] {
        guard let text = segments.first(where: {
            $0.executable && mapping.fileOffset >= $0.offset && mapping.fileOffset - $0.offset < max($0.fileSize, 1)
        }), let base = bytes.baseAddress else { return [] }
        // Target address = virtual address + bias.
        let bias = mapping.start &- (text.virtualAddress &+ (mapping.fileOffset - text.offset))
        let table = searchTable.map { $0 &+ bias } ?? 0
        var result: [(CPerfProbeUnwind_Segment, Bool)] = segments.compactMap { segment in
            // The file's numbers: checked by subtraction, so a crafted header cannot wrap past the bytes.
            guard segment.offset <= UInt64(bytes.count), segment.fileSize <= UInt64(bytes.count) - segment.offset else { return nil }
            return (CPerfProbeUnwind_Segment(
                start: segment.virtualAddress &+ bias, size: segment.fileSize,
                bytes: base.advanced(by: Int(segment.offset)).assumingMemoryBound(to: UInt8.self),
                code_start: mapping.start, code_end: mapping.end, eh_frame_hdr: table), false)
        }
        if let synthetic, let start = synthetic.image.baseAddress {
            result.append((CPerfProbeUnwind_Segment(
                start: synthetic.address &+ bias, size: UInt64(synthetic.image.count),
                bytes: start.assumingMemoryBound(to: UInt8.self),
                code_start: mapping.start, code_end: mapping.end, eh_frame_hdr: 0), true))
        }
        return result
    }
}
