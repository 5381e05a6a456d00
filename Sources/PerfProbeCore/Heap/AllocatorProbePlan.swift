/// Where `attach --heap` puts its uprobes: the allocator the target uses and,
/// for each of its functions, the instruction to probe.
public struct AllocatorProbePlan: Sendable {
    public struct Site: Hashable, Sendable {
        public var function: AllocatorDefinition.Function
        /// The function's entry as a virtual address of the library file, and its size.
        public var address: UInt64
        public var size: UInt64
        /// The entry's offset in the file (what a uprobe names).
        public var fileOffset: UInt64
        /// Bytes past the entry of the probed instruction: frees are probed on
        /// the first emulated instruction (`ProbePlacement`); allocations at
        /// the entry, where their return probe must be.
        public var placement: Int
    }

    public var definition: AllocatorDefinition
    /// The library's path in the target's mount namespace.
    public var libraryPath: String
    /// The same file as the agent opens it.
    public var openPath: String
    public var sites: [Site]
    /// Functions of the definition the library does not export, or exports
    /// as an IFUNC resolver (not probed).
    public var missing: [String]
    /// The library's executable mappings in the target at attach.
    var mappings: [MemoryMapping]

    /// Chooses the allocator of a process from its mappings: the first of
    /// `definitions` whose library it maps, allocators that interpose on
    /// glibc's (jemalloc, tcmalloc…) before it. Reads the library's dynamic
    /// symbols and code.
    static func make(pid: ProcessID, mappings: [MemoryMapping],
                     definitions: [AllocatorDefinition]) throws(HeapProbeError) -> AllocatorProbePlan {
        let interposersFirst = definitions.filter { !$0.matches(path: "libc.so.6") } + definitions.filter { $0.matches(path: "libc.so.6") }
        for definition in interposersFirst {
            let library = mappings.filter { $0.executable && definition.matches(path: $0.path) }
            guard let path = library.first?.path else { continue }
            return try make(definition: definition, libraryPath: path, openPath: "/proc/\(pid)/root\(path)", mappings: library)
        }
        throw .noAllocator(pid: pid, known: definitions.map(\.name))
    }

    static func make(definition: AllocatorDefinition, libraryPath: String, openPath: String,
                     mappings: [MemoryMapping]) throws(HeapProbeError) -> AllocatorProbePlan {
        let file: SharedElfFile
        do {
            file = try SharedElfFile.open(openPath)
        } catch {
            throw .unreadableLibrary(libraryPath, error.description)
        }
        let (exported, segments) = file.read { ($0.exportedFunctions(named: Set(definition.functions.map(\.symbol))), $0.loadSegments) }
        let bytes = file.bytes
        var sites: [Site] = []
        var missing: [String] = []
        for function in definition.functions {
            guard let symbol = exported[function.symbol], !symbol.indirect,
                  let segment = segments.first(where: { $0.virtualAddress <= symbol.address && symbol.address - $0.virtualAddress < $0.fileSize
                                                        && $0.offset <= UInt64(bytes.count) && $0.fileSize <= UInt64(bytes.count) - $0.offset })
            else {
                missing.append(function.symbol)
                continue
            }
            // Aliases (glibc's aligned_alloc is memalign) are probed once.
            guard !sites.contains(where: { $0.address == symbol.address }) else { continue }
            let fileOffset = symbol.address - segment.virtualAddress + segment.offset
            var placement = 0
            if function.role == .free, let pointer = function.pointer {
                let end = min(Int(fileOffset) + Int(min(symbol.size, 64)), bytes.count)
                let code = Array(bytes[Int(fileOffset)..<max(end, Int(fileOffset))])
                placement = ProbePlacement.offset(in: code[...], preserving: [pointer.x86Number])
            }
            sites.append(Site(function: function, address: symbol.address, size: symbol.size,
                              fileOffset: fileOffset, placement: placement))
        }
        // `bytes` is the file's mapping: valid while `file` lives.
        withExtendedLifetime(file) {}
        guard sites.contains(where: { $0.function.role != .free }), sites.contains(where: { $0.function.role != .alloc }) else {
            throw .noAllocator(pid: nil, known: [definition.name])
        }
        return AllocatorProbePlan(definition: definition, libraryPath: libraryPath, openPath: openPath,
                                  sites: sites, missing: missing, mappings: mappings)
    }

    /// Whether `address` (a return address in the target) lies in a probed
    /// function: the allocator calling itself (glibc's realloc of NULL calls
    /// malloc), which the outer call already reports.
    /// The site whose probe is at `address` (an entry sample's instruction
    /// pointer) among `sites`.
    func site(probedAt address: UInt64, among candidates: [Int]) -> Int? {
        // Plain loops: this runs for every allocator call.
        for mapping in mappings where mapping.contains(address) {
            let offset = address - mapping.start &+ mapping.fileOffset
            for candidate in candidates where sites[candidate].fileOffset &+ UInt64(sites[candidate].placement) == offset {
                return candidate
            }
            return nil
        }
        return nil
    }

    func isInsideProbedFunction(_ address: UInt64) -> Bool {
        guard let mapping = mappings.first(where: { $0.contains(address) }) else { return false }
        let offset = address - mapping.start &+ mapping.fileOffset
        return sites.contains { offset >= $0.fileOffset && offset - $0.fileOffset < max($0.size, 1) }
    }
}

extension AllocatorDefinition.Register {
    /// The register's number in x86 encodings (ModRM), as `X86Instruction` reports writes.
    var x86Number: Int {
        switch self {
        case .rax: 0
        case .rcx: 1
        case .rdx: 2
        case .rsi: 6
        case .rdi: 7
        case .r8: 8
        case .r9: 9
        }
    }
}
