import CLibElf

/// Why a module's ELF file could not be read.
public enum ElfError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(String, Errno)
    case notElf(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno): "cannot open \(path): \(errno)"
        case .notElf(let path): "\(path) is not an ELF file"
        }
    }
}

/// An open ELF file (libelf `Elf*`), from a path or from bytes in memory.
/// Owns the handle, the fd and the bytes; releases them in `deinit`.
struct ElfFile: ~Copyable {
    /// A PT_LOAD segment: file offsets in [offset, offset+fileSize) are
    /// loaded at virtual addresses from `virtualAddress`.
    struct LoadSegment: Hashable, Sendable {
        var offset: UInt64
        var fileSize: UInt64
        var virtualAddress: UInt64
        var executable: Bool
        /// What it occupies in memory (p_memsz: with its zero-filled .bss).
        var memorySize: UInt64 = 0
    }

    private let elf: OpaquePointer
    /// The file libelf maps (none for bytes in memory).
    private let descriptor: FileDescriptor?
    private let memory: UnsafeMutableRawBufferPointer?

    private static let libraryReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

    init(path: String) throws(ElfError) {
        _ = Self.libraryReady
        // The path may lead into the target's root: a FIFO there must not block us.
        let descriptor: FileDescriptor
        do { descriptor = FileDescriptor(try Syscalls.openForReading(path)) } catch { throw .cannotOpen(path, error) }
        guard (try? Syscalls.fileStatus(descriptor.raw))?.regular == true,
              let elf = elf_begin(descriptor.raw, ELF_C_READ_MMAP, nil) else { throw .notElf(path) }
        guard elf_kind(elf) == ELF_K_ELF else {
            // An archive or unknown file still has a handle to end.
            elf_end(elf)
            throw .notElf(path)
        }
        self.elf = elf
        self.descriptor = .some(descriptor)
        self.memory = nil
    }

    init(bytes: [UInt8], name: String) throws(ElfError) {
        _ = Self.libraryReady
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        memory.copyBytes(from: bytes)
        guard let elf = elf_memory(memory.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count) else {
            memory.deallocate()
            throw .notElf(name)
        }
        guard elf_kind(elf) == ELF_K_ELF else {
            // An archive or unknown kind still has a handle to end (libFuzzer's leak check found it).
            elf_end(elf)
            memory.deallocate()
            throw .notElf(name)
        }
        self.elf = elf
        self.descriptor = nil
        self.memory = memory
    }

    deinit {
        // Before the fd (a stored property) closes.
        elf_end(elf)
        memory?.deallocate()
    }

    var loadSegments: [LoadSegment] {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { return [] }
        return (0..<count).compactMap { index in
            var header = GElf_Phdr()
            guard let index = Int32(exactly: index), gelf_getphdr(elf, index, &header) != nil, header.p_type == PT_LOAD else { return nil }
            return LoadSegment(offset: header.p_offset, fileSize: header.p_filesz, virtualAddress: header.p_vaddr,
                               executable: header.p_flags & UInt32(PF_X) != 0, memorySize: header.p_memsz)
        }
    }

    /// The virtual address of `.eh_frame_hdr` (PT_GNU_EH_FRAME), the binary
    /// search table over the DWARF CFI that unwinding needs.
    var ehFrameHeaderAddress: UInt64? {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { return nil }
        for index in 0..<count {
            var header = GElf_Phdr()
            if let index = Int32(exactly: index), gelf_getphdr(elf, index, &header) != nil, header.p_type == UInt32(PT_GNU_EH_FRAME) {
                return header.p_vaddr
            }
        }
        return nil
    }

    /// The whole file's bytes, valid while this `ElfFile` lives.
    var rawBytes: UnsafeRawBufferPointer {
        var size = 0
        guard let base = elf_rawfile(elf, &size) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base, count: size)
    }

    /// The function symbols of `.symtab`, or of `.dynsym` when the file is
    /// stripped; global symbols first so they win over local aliases; then
    /// `name@plt` for the PLT stubs, which no symbol table names.
    var functionSymbols: [Symbol] {
        let full = symbols(inSectionOfType: UInt32(SHT_SYMTAB))
        return (full.isEmpty ? symbols(inSectionOfType: UInt32(SHT_DYNSYM)) : full) + pltSymbols
    }

    /// Entries in the symbol table `functionSymbols` reads: to choose between
    /// a module and its separate debug file.
    var symbolCount: Int {
        let table = sections(ofType: UInt32(SHT_SYMTAB)).isEmpty ? UInt32(SHT_DYNSYM) : UInt32(SHT_SYMTAB)
        return sections(ofType: table).reduce(0) { $0 &+ ($1.header.sh_entsize > 0 ? Int(clamping: $1.header.sh_size / $1.header.sh_entsize) : 0) }
    }

    /// The symbols `functionSymbols` would give for `addresses` (virtual
    /// addresses), found in one pass over the table and named only when they
    /// win: a module of 250k symbols is read for the few hundred a profile
    /// needs, without building every name.
    func functionSymbols(covering addresses: [UInt64]) -> [Symbol] {
        let needed = Array(Set(addresses)).sorted()
        guard !needed.isEmpty else { return [] }
        let type = sections(ofType: UInt32(SHT_SYMTAB)).isEmpty ? UInt32(SHT_DYNSYM) : UInt32(SHT_SYMTAB)
        // Per needed address, the candidate with the highest start at or below it (globals win ties).
        var best = [(address: UInt64, size: UInt64, names: Int, offset: Int, global: Bool)?](repeating: nil, count: needed.count)
        // Symbols of a crafted file can all cover every address: bound the work.
        var budget = 50_000_000
        for (scn, header) in sections(ofType: type) {
            guard let data = elf_getdata(scn, nil) else { continue }
            for index in 0..<Self.entryCount(data, header) {
                var symbol = GElf_Sym()
                guard gelf_getsym(data, index, &symbol) != nil else { continue }
                let kind = Int32(symbol.st_info & 0xf)
                guard kind == STT_FUNC || kind == STT_GNU_IFUNC, symbol.st_shndx != UInt16(SHN_UNDEF), symbol.st_value != 0 else { continue }
                let start = symbol.st_value
                let end = symbol.st_size > 0 ? start &+ symbol.st_size : UInt64.max
                let global = Int32(symbol.st_info >> 4) != STB_LOCAL
                var i = needed.partitioningIndex { $0 >= start }
                while i < needed.count && needed[i] < end && budget > 0 {
                    budget -= 1
                    if let current = best[i], current.address > start || (current.address == start && (current.global || !global)) {
                        i += 1
                        continue
                    }
                    best[i] = (start, symbol.st_size, Int(header.sh_link), Int(symbol.st_name), global)
                    i += 1
                }
            }
        }
        var seen = Set<UInt64>()
        let winners = best.compactMap { $0 }.filter { seen.insert($0.address).inserted }.compactMap { winner -> Symbol? in
            guard let name = elf_strptr(elf, winner.names, winner.offset) else { return nil }
            return Symbol(address: winner.address, size: winner.size, name: String(cString: name))
        }
        return winners + pltSymbols
    }

    /// An exported function: what the dynamic linker binds a name to.
    struct ExportedFunction: Hashable, Sendable {
        var address: UInt64
        var size: UInt64
        /// STT_GNU_IFUNC: the address is a resolver, not the function.
        var indirect: Bool
    }

    /// The defined global functions of `.dynsym` named in `names` (the first
    /// entry of a name that has several versions).
    func exportedFunctions(named names: Set<String>) -> [String: ExportedFunction] {
        var found: [String: ExportedFunction] = [:]
        for (scn, header) in sections(ofType: UInt32(SHT_DYNSYM)) {
            guard let data = elf_getdata(scn, nil) else { continue }
            for index in 0..<Self.entryCount(data, header) {
                var symbol = GElf_Sym()
                guard gelf_getsym(data, index, &symbol) != nil else { continue }
                let kind = Int32(symbol.st_info & 0xf)
                guard kind == STT_FUNC || kind == STT_GNU_IFUNC, symbol.st_shndx != UInt16(SHN_UNDEF), symbol.st_value != 0,
                      Int32(symbol.st_info >> 4) != STB_LOCAL,
                      let cName = elf_strptr(elf, Int(header.sh_link), Int(symbol.st_name)) else { continue }
                let name = String(cString: cName)
                guard names.contains(name), found[name] == nil else { continue }
                found[name] = ExportedFunction(address: symbol.st_value, size: symbol.st_size, indirect: kind == STT_GNU_IFUNC)
            }
        }
        return found
    }

    /// The x86-64 PLT's 16-byte stubs, named from `.rela.plt` as objdump does:
    /// stub i+1 of `.plt` (after the resolver stub) or stub i of `.plt.sec`
    /// (with IBT) jumps through relocation i's GOT slot.
    private var pltSymbols: [Symbol] {
        var stringTable = 0
        guard elf_getshdrstrndx(elf, &stringTable) == 0 else { return [] }
        var named: [String: GElf_Shdr] = [:]
        var relocations: (scn: OpaquePointer, header: GElf_Shdr)?
        var scn: OpaquePointer? = nil
        while let next = elf_nextscn(elf, scn) {
            scn = next
            var header = GElf_Shdr()
            guard gelf_getshdr(next, &header) != nil, let name = elf_strptr(elf, stringTable, Int(header.sh_name)) else { continue }
            let sectionName = String(cString: name)
            named[sectionName] = header
            if sectionName == ".rela.plt" { relocations = (next, header) }
        }
        guard let plt = named[".plt"] else { return [] }
        var result = [Symbol(address: plt.sh_addr, size: 16, name: "[plt]")]
        guard let relocations, let data = elf_getdata(relocations.scn, nil),
              let dynamicSymbols = elf_getscn(elf, Int(relocations.header.sh_link)),
              let symbolData = elf_getdata(dynamicSymbols, nil) else { return result }
        var symbolHeader = GElf_Shdr()
        guard gelf_getshdr(dynamicSymbols, &symbolHeader) != nil else { return result }
        let stubs = named[".plt.sec"].map { ($0.sh_addr, UInt64(0)) } ?? (plt.sh_addr, UInt64(16))
        for index in 0..<Self.entryCount(data, relocations.header) {
            var relocation = GElf_Rela()
            var symbol = GElf_Sym()
            guard gelf_getrela(data, index, &relocation) != nil, let symbolIndex = Int32(exactly: relocation.r_info >> 32),
                  gelf_getsym(symbolData, symbolIndex, &symbol) != nil,
                  let name = elf_strptr(elf, Int(symbolHeader.sh_link), Int(symbol.st_name)) else { continue }
            // Addresses are the file's numbers: wrapping, never trapping.
            result.append(Symbol(address: stubs.0 &+ stubs.1 &+ UInt64(index) &* 16, size: 16,
                                             name: String(cString: name) + "@plt"))
        }
        return result
    }

    /// A section's address and contents, decompressed if it is
    /// SHF_COMPRESSED (zlib or zstd, as Go and `--compress-debug-sections`
    /// write them); nil when absent, without contents, or over `limit` bytes
    /// in memory (the size a crafted compressed header claims is checked
    /// before anything is inflated).
    func section(named wanted: String, limit: UInt64 = 256 << 20) -> (address: UInt64, bytes: [UInt8])? {
        var stringTable = 0
        guard elf_getshdrstrndx(elf, &stringTable) == 0 else { return nil }
        var scn: OpaquePointer? = nil
        while let next = elf_nextscn(elf, scn) {
            scn = next
            var header = GElf_Shdr()
            guard gelf_getshdr(next, &header) != nil, header.sh_type != UInt32(SHT_NOBITS),
                  let name = elf_strptr(elf, stringTable, Int(header.sh_name)), String(cString: name) == wanted else { continue }
            if header.sh_flags & UInt64(SHF_COMPRESSED) != 0 {
                var compressed = GElf_Chdr()
                guard gelf_getchdr(next, &compressed) != nil, compressed.ch_size <= limit, elf_compress(next, 0, 0) == 1 else { return nil }
            } else if header.sh_size > limit {
                return nil
            }
            guard let data = elf_getdata(next, nil), UInt64(data.pointee.d_size) <= limit else { return nil }
            guard let buffer = data.pointee.d_buf else { return (header.sh_addr, []) }
            return (header.sh_addr, Array(UnsafeRawBufferPointer(start: buffer, count: data.pointee.d_size)))
        }
        return nil
    }

    /// Where the file's code starts when run (e_entry): a program's, or the
    /// dynamic loader's; nil where it is 0, as in ordinary libraries.
    var programEntry: UInt64? {
        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil, header.e_entry != 0 else { return nil }
        return header.e_entry
    }

    /// The GNU build-id note, if the file has one.
    var buildID: [UInt8]? {
        for section in sections(ofType: UInt32(SHT_NOTE)) {
            guard let data = elf_getdata(section.scn, nil) else { continue }
            var offset = 0
            var header = GElf_Nhdr()
            var nameOffset = 0
            var descriptorOffset = 0
            while true {
                let next = gelf_getnote(data, offset, &header, &nameOffset, &descriptorOffset)
                if next == 0 { break }
                offset = next
                // A build-id is 16–20 bytes; a descriptor outside the section is refused.
                guard header.n_type == UInt32(NT_GNU_BUILD_ID), let buffer = data.pointee.d_buf, header.n_descsz <= 64,
                      descriptorOffset <= data.pointee.d_size,
                      Int(header.n_descsz) <= data.pointee.d_size - descriptorOffset else { continue }
                let bytes = UnsafeRawBufferPointer(start: buffer + descriptorOffset, count: Int(header.n_descsz))
                return Array(bytes)
            }
        }
        return nil
    }

    /// The file name in `.gnu_debuglink`: where a separate debug file is.
    var debugLink: String? {
        var stringTable = 0
        guard elf_getshdrstrndx(elf, &stringTable) == 0 else { return nil }
        for (scn, header) in sections(ofType: UInt32(SHT_PROGBITS)) {
            guard let name = elf_strptr(elf, stringTable, Int(header.sh_name)), String(cString: name) == ".gnu_debuglink",
                  let data = elf_getdata(scn, nil), let buffer = data.pointee.d_buf else { continue }
            let bytes = UnsafeRawBufferPointer(start: buffer, count: data.pointee.d_size)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[0..<end], as: UTF8.self)
        }
        return nil
    }

    /// Entries in a section's data as libelf loaded it (not as its header
    /// claims: a crafted sh_size would make the loop run for hours), at most Int32.max.
    private static func entryCount(_ data: UnsafeMutablePointer<Elf_Data>, _ header: GElf_Shdr) -> Int32 {
        guard header.sh_entsize > 0 else { return 0 }
        return Int32(clamping: UInt64(data.pointee.d_size) / header.sh_entsize)
    }

    private func sections(ofType type: UInt32) -> [(scn: OpaquePointer, header: GElf_Shdr)] {
        var result: [(OpaquePointer, GElf_Shdr)] = []
        var scn: OpaquePointer? = nil
        while let next = elf_nextscn(elf, scn) {
            scn = next
            var header = GElf_Shdr()
            if gelf_getshdr(next, &header) != nil, header.sh_type == type { result.append((next, header)) }
        }
        return result
    }

    private func symbols(inSectionOfType type: UInt32) -> [Symbol] {
        var globals: [Symbol] = []
        var locals: [Symbol] = []
        for (scn, header) in sections(ofType: type) {
            guard let data = elf_getdata(scn, nil) else { continue }
            for index in 0..<Self.entryCount(data, header) {
                var symbol = GElf_Sym()
                guard gelf_getsym(data, index, &symbol) != nil else { continue }
                let kind = Int32(symbol.st_info & 0xf)
                guard kind == STT_FUNC || kind == STT_GNU_IFUNC, symbol.st_shndx != UInt16(SHN_UNDEF), symbol.st_value != 0,
                      let name = elf_strptr(elf, Int(header.sh_link), Int(symbol.st_name)) else { continue }
                let entry = Symbol(address: symbol.st_value, size: symbol.st_size, name: String(cString: name))
                if Int32(symbol.st_info >> 4) == STB_LOCAL { locals.append(entry) } else { globals.append(entry) }
            }
        }
        return globals + locals
    }
}
