import CLibElf
import Glibc

/// An ELF file's DWARF, read through elfutils' libdw (`Dwarf*`): its
/// compile units, the subprogram and inlined-subroutine entries of a unit,
/// and its line table. The file comes from the target's side: it is opened
/// like any untrusted path, and walks of its trees are capped. Owns the
/// handle and the fd, closed in `deinit`. Not thread-safe (libdw's caches).
struct DwarfFile: ~Copyable {
    /// A compile unit: its DIE and the addresses its code covers.
    struct Unit {
        var die: Dwarf_Die
        var ranges: [Range<UInt64>]
        /// DW_AT_comp_dir: what relative file names are relative to.
        var directory: String?
    }

    /// A subprogram or inlined subroutine with code: `parent` is the
    /// nearest enclosing one (an index into the same list, always smaller).
    struct CodeEntry {
        var die: Dwarf_Die
        var parent: Int
        var inlined: Bool
        var ranges: [Range<UInt64>]
    }

    /// Entries visited per walk at most: a unit of millions of entries is
    /// malformed or hostile, and the walk stops there (what was read stays).
    static let maxEntriesPerWalk = 4_000_000
    /// How deep the walk descends (scopes nest a few dozen deep in real code).
    static let maxDepth = 256

    private let handle: OpaquePointer
    private let elf: OpaquePointer
    /// The file libelf maps (nil for an image in memory).
    private let descriptor: FileDescriptor?
    /// Memory libelf reads from besides the file: an image's bytes, and
    /// sections decompressed here.
    private let buffers: [UnsafeMutableRawBufferPointer]
    /// Whether every section is the file's own, unchanged (see `releasePages`).
    private let onlyFilePages: Bool

    /// Decompressed sections of one file at most, all together, and the most
    /// one section may grow by: more is no debug information but a bomb
    /// (debug sections compress 3 to 10 times).
    static let maxDecompressedBytes = 1 << 30
    static let maxCompressionRatio = 256
    /// Zero bytes after each decompressed section: a string read past its end stops there.
    static let zeroTail = 16
    private static let libraryReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

    /// nil when the file cannot be opened, is not ELF or has no DWARF.
    init?(path: String) {
        _ = Self.libraryReady
        guard let fd = try? Syscalls.openForReading(path) else { return nil }
        let descriptor = FileDescriptor(fd)
        // A private mapping: the headers of sections decompressed here are rewritten in it.
        guard (try? Syscalls.fileStatus(descriptor.raw))?.regular == true,
              let elf = elf_begin(descriptor.raw, ELF_C_READ_MMAP_PRIVATE, nil) else { return nil }
        guard let (handle, sections) = Self.begin(elf) else { return nil }
        self.handle = handle
        self.elf = elf
        self.descriptor = .some(descriptor)
        buffers = sections
        onlyFilePages = sections.isEmpty
    }

    /// The DWARF of an ELF image in memory (the fuzz target's input).
    init?(bytes: [UInt8]) {
        _ = Self.libraryReady
        // With the zero tail a file's last page has after its end.
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + Self.zeroTail, alignment: 16)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
        memory.copyBytes(from: bytes)
        guard let elf = elf_memory(memory.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count),
              let (handle, sections) = Self.begin(elf) else {
            memory.deallocate()
            return nil
        }
        self.handle = handle
        self.elf = elf
        descriptor = nil
        buffers = [memory] + sections
        onlyFilePages = false
    }

    deinit {
        // libdw's handle before libelf's, both before the fd (a stored property) closes and the buffers go.
        dwarf_end(handle)
        elf_end(elf)
        for buffer in buffers { buffer.deallocate() }
    }

    /// libdw over `elf`, its zstd sections decompressed first; nil (and
    /// `elf` ended) without DWARF.
    private static func begin(_ elf: OpaquePointer) -> (OpaquePointer, [UnsafeMutableRawBufferPointer])? {
        guard elf_kind(elf) == ELF_K_ELF else {
            elf_end(elf)
            return nil
        }
        let sections = decompressSections(elf)
        guard let handle = dwarf_begin_elf(elf, DWARF_C_READ, nil) else {
            elf_end(elf)
            for buffer in sections { buffer.deallocate() }
            return nil
        }
        return (handle, sections)
    }

    /// Compressed sections are decompressed here, not by libelf: elfutils
    /// 0.188 reads no zstd (ELFCOMPRESS_ZSTD), and gives zlib sections a
    /// buffer of exactly their size, past whose end libdw's line-table
    /// reader runs `strlen` on a string missing its NUL (the `dwarf` fuzz
    /// target found it). Each buffer here ends in zero bytes beyond the
    /// section; the section's header and data are rewritten to say plain
    /// bytes, which libdw then reads as it would a file's. A section that
    /// does not decompress to the size its header promises, or would pass
    /// the limits, is left as it is (libdw then reads no DWARF from it).
    private static func decompressSections(_ elf: OpaquePointer) -> [UnsafeMutableRawBufferPointer] {
        var buffers: [UnsafeMutableRawBufferPointer] = []
        var budget = maxDecompressedBytes
        var section = elf_nextscn(elf, nil)
        while let current = section {
            section = elf_nextscn(elf, current)
            var header = GElf_Shdr()
            var compression = GElf_Chdr()
            guard gelf_getshdr(current, &header) != nil, header.sh_flags & UInt64(SHF_COMPRESSED) != 0,
                  gelf_getchdr(current, &compression) != nil, compression.ch_type == 1 || compression.ch_type == 2,
                  compression.ch_size > 0, compression.ch_size <= UInt64(budget),
                  let data = elf_getdata(current, nil), let compressed = data.pointee.d_buf else { continue }
            let headerSize = gelf_getclass(elf) == ELFCLASS64 ? MemoryLayout<Elf64_Chdr>.size : MemoryLayout<Elf32_Chdr>.size
            // d_size is libelf's, within the file: the product cannot overflow.
            guard data.pointee.d_size > headerSize,
                  compression.ch_size <= UInt64(data.pointee.d_size) * UInt64(maxCompressionRatio) else { continue }
            let size = Int(compression.ch_size)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size + Self.zeroTail, alignment: 16)
            buffer[size...].initializeMemory(as: UInt8.self, repeating: 0)
            let section = UnsafeMutableRawBufferPointer(rebasing: buffer[..<size])
            let source = compressed + headerSize, count = data.pointee.d_size - headerSize
            guard compression.ch_type == 1 ? Zlib.decompress(source, count: count, into: section)
                                           : Zstd.decompress(source, count: count, into: section) else {
                buffer.deallocate()
                continue
            }
            header.sh_flags &= ~UInt64(SHF_COMPRESSED)
            header.sh_size = UInt64(size)
            guard gelf_update_shdr(current, &header) != 0 else {
                buffer.deallocate()
                continue
            }
            data.pointee.d_buf = buffer.baseAddress
            data.pointee.d_size = size
            data.pointee.d_type = ELF_T_BYTE
            buffers.append(buffer)
            budget -= size
        }
        return buffers
    }

    /// Every compile unit with code.
    func units() -> [Unit] {
        var units: [Unit] = []
        var unit: OpaquePointer? = nil
        var version: Dwarf_Half = 0
        var unitType: UInt8 = 0
        while true {
            var next: OpaquePointer? = nil
            var die = Dwarf_Die()
            guard dwarf_get_units(handle, unit, &next, &version, &unitType, &die, nil) == 0 else { break }
            unit = next
            let ranges = Self.ranges(of: &die)
            guard !ranges.isEmpty else { continue }
            var attribute = Dwarf_Attribute()
            let directory = dwarf_attr(&die, UInt32(DW_AT_comp_dir), &attribute) != nil
                ? dwarf_formstring(&attribute).map { String(cString: $0) } : nil
            units.append(Unit(die: die, ranges: ranges, directory: directory))
        }
        return units
    }

    /// The functions with code in `unit`: its subprograms, also those
    /// defined inside namespaces and types, but not those nested in other
    /// functions (their function's entries hold them).
    func functions(of unit: Unit) -> [CodeEntry] {
        walk(unit.die, includingRoot: false, descends: { $0 != DW_TAG_subprogram && Self.holdsCode($0) })
    }

    /// `function` and the inlined subroutines and nested functions within
    /// it, outer before inner (depth first); `function` is the first.
    func codeEntries(of function: CodeEntry) -> [CodeEntry] {
        walk(function.die, includingRoot: true, descends: Self.holdsCode)
    }

    /// The subprograms and inlined subroutines with code below `root`,
    /// depth first, descending into the children of tags `descends` allows.
    private func walk(_ root: Dwarf_Die, includingRoot: Bool, descends: (Int) -> Bool) -> [CodeEntry] {
        var entries: [CodeEntry] = []
        var visited = 0
        // (first of a list of siblings, index of the enclosing entry, depth)
        var pending: [(Dwarf_Die, Int, Int)] = []
        var top = root
        if includingRoot {
            let ranges = Self.ranges(of: &top)
            guard !ranges.isEmpty else { return [] }
            entries.append(CodeEntry(die: root, parent: -1, inlined: Int(dwarf_tag(&top)) == DW_TAG_inlined_subroutine, ranges: ranges))
        }
        var child = Dwarf_Die()
        if dwarf_child(&top, &child) == 0 { pending.append((child, entries.count - 1, 1)) }
        while let (first, parent, depth) = pending.popLast() {
            var die = first
            var lists: [(Dwarf_Die, Int, Int)] = []
            while true {
                visited += 1
                if visited > Self.maxEntriesPerWalk { return entries }
                let tag = Int(dwarf_tag(&die))
                var scope = parent
                if tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine {
                    let ranges = Self.ranges(of: &die)
                    if !ranges.isEmpty {
                        entries.append(CodeEntry(die: die, parent: parent, inlined: tag == DW_TAG_inlined_subroutine, ranges: ranges))
                        scope = entries.count - 1
                    }
                }
                if descends(tag), depth < Self.maxDepth {
                    var first = Dwarf_Die()
                    if dwarf_child(&die, &first) == 0 { lists.append((first, scope, depth + 1)) }
                }
                var next = Dwarf_Die()
                guard dwarf_siblingof(&die, &next) == 0 else { break }
                die = next
            }
            // Popped last first: reversed, so that earlier children come first.
            pending.append(contentsOf: lists.reversed())
        }
        return entries
    }

    /// Tags whose children can hold code: functions, their blocks, and the
    /// namespaces and types member functions can be defined in.
    private static func holdsCode(_ tag: Int) -> Bool {
        switch tag {
        case DW_TAG_subprogram, DW_TAG_inlined_subroutine, DW_TAG_lexical_block, DW_TAG_try_block, DW_TAG_catch_block,
             DW_TAG_namespace, DW_TAG_module, DW_TAG_class_type, DW_TAG_structure_type, DW_TAG_union_type:
            true
        default:
            false
        }
    }

    /// A DIE's address ranges (low_pc/high_pc or DW_AT_ranges), empty ones dropped.
    private static func ranges(of die: inout Dwarf_Die) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        var base: Dwarf_Addr = 0
        var start: Dwarf_Addr = 0
        var end: Dwarf_Addr = 0
        var offset = dwarf_ranges(&die, 0, &base, &start, &end)
        // A range list is short; a cycle or a corrupt list stops at the cap.
        while offset > 0, ranges.count < 65_536 {
            if start < end { ranges.append(start..<end) }
            offset = dwarf_ranges(&die, offset, &base, &start, &end)
        }
        return ranges
    }

    /// The line-table row holding `address` in `unit`: where the row
    /// starts, its file and line (libdw sorts a unit's rows once and
    /// searches them by halves).
    func line(at address: UInt64, in unit: Unit) -> (start: UInt64, file: String?, line: Int)? {
        var die = unit.die
        guard let row = dwarf_getsrc_die(&die, address) else { return nil }
        var number: Int32 = 0
        var start: Dwarf_Addr = 0
        guard dwarf_lineno(row, &number) == 0, number > 0, dwarf_lineaddr(row, &start) == 0, start <= address else { return nil }
        return (start, dwarf_linesrc(row, nil, nil).map { Self.path(String(cString: $0), in: unit) }, Int(number))
    }

    /// Where an inlined subroutine was called: DW_AT_call_file and DW_AT_call_line.
    func callSite(of entry: CodeEntry, in unit: Unit) -> (file: String?, line: Int?) {
        var die = entry.die
        var attribute = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        var line: Int?
        if dwarf_attr(&die, UInt32(DW_AT_call_line), &attribute) != nil, dwarf_formudata(&attribute, &value) == 0,
           value > 0, value < UInt64(Int32.max) {
            line = Int(value)
        }
        var file: String?
        var unitDie = unit.die
        var files: OpaquePointer? = nil
        var count = 0
        if dwarf_attr(&die, UInt32(DW_AT_call_file), &attribute) != nil, dwarf_formudata(&attribute, &value) == 0,
           dwarf_getsrcfiles(&unitDie, &files, &count) == 0, value < UInt64(count),
           let name = dwarf_filesrc(files, Int(value), nil, nil) {
            file = Self.path(String(cString: name), in: unit)
        }
        return (file, line)
    }

    /// An entry's function name: its linkage name where it has one (to be
    /// demangled like a symbol), else its name, following abstract origins
    /// and specifications (libdw bounds that chain).
    func name(of entry: CodeEntry) -> String? {
        var die = entry.die
        var attribute = Dwarf_Attribute()
        for name in [DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name] {
            if dwarf_attr_integrate(&die, UInt32(name), &attribute) != nil, let text = dwarf_formstring(&attribute) {
                return String(cString: text)
            }
        }
        return nil
    }

    /// Drops the pages of the file read so far from memory: they are the
    /// file's own (a private, unwritten mapping), so libdw's pointers into
    /// them stay good and fault them back from the page cache when used.
    /// Keeps the agent's resident size to the units in use, not every
    /// unit a profile touched of a debug file of hundreds of MB.
    func releasePages() {
        // Only a file's mapping as the file has it: an image's bytes and
        // rewritten section headers are backed by no file.
        guard onlyFilePages else { return }
        var size = 0
        guard let base = elf_rawfile(elf, &size), size > 0,
              Int(bitPattern: base) % Int(getpagesize()) == 0 else { return }
        madvise(UnsafeMutableRawPointer(mutating: base), size, MADV_DONTNEED)
    }

    /// A relative name is relative to the unit's compilation directory.
    private static func path(_ name: String, in unit: Unit) -> String {
        guard !name.hasPrefix("/"), let directory = unit.directory, !directory.isEmpty else { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
