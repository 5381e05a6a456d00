import CPerfProbeUnwind

/// Unwinds the user stack copied with each sample by DWARF CFI (libunwind's
/// remote API), reading code and unwind tables from the module files, so
/// binaries without frame pointers give whole stacks. The kernel part comes
/// from the kernel's own walk.
struct DwarfUnwinder: Unwinder, ~Copyable {
    static let maxFrames = 1024

    private let addressSpace: UnwindAddressSpace
    private let mode: UnwindMode
    /// Module files by module index; nil where the file could not be read.
    private var modules: [Int32: UnwindModule?] = [:]
    private var tables: [ProcessID: (generation: Int, segments: [CPerfProbeUnwind_Segment])] = [:]
    private var addresses = [UInt64](repeating: 0, count: DwarfUnwinder.maxFrames)
    /// Whose code libunwind's cache describes: flushed when this changes.
    private var cached: (pid: ProcessID, generation: Int)?
    /// Modules the unwinder could not use: no file, or no CFI (neither
    /// `.eh_frame_hdr` nor `.debug_frame`).
    private(set) var modulesWithoutUnwindInfo: Set<String> = []

    /// The module files read, by path.
    var openFiles: OpenModuleFiles {
        OpenModuleFiles(files: Dictionary(modules.values.compactMap { $0.map { ($0.file.path, $0.file) } }) { first, _ in first })
    }

    init(mode: UnwindMode) throws(SamplingError) {
        addressSpace = try UnwindAddressSpace()
        self.mode = mode
    }

    mutating func unwind(_ sample: SampleRecord, in spaces: inout AddressSpaces) -> UnwoundStack {
        let chain = CallchainUnwinder().unwind(sample)
        let registers = sample.userRegisters
        guard mode != .fp, registers.count == CPerfProbeUnwind_REGISTER_COUNT, !sample.userStack.isEmpty else { return chain }
        // The mappings behind the sampled IP, for the unwinder's segment table.
        spaces.learnMapping(of: registers[8], in: sample.pid)
        let (segments, generation) = segmentTable(for: sample.pid, spaces: spaces)
        if cached == nil || cached! != (sample.pid, generation) {
            addressSpace.flush()
            cached = (sample.pid, generation)
        }
        let (count, outcome) = addressSpace.unwind(registers: registers, stack: sample.userStack, segments: segments, into: &addresses)
        var user = Array(addresses[0..<count])
        switch outcome {
        case CPerfProbeUnwind_complete:
            return UnwoundStack(kernel: chain.kernel, user: user, outcome: .complete)
        case CPerfProbeUnwind_truncated where mode == .auto, CPerfProbeUnwind_failed where mode == .auto:
            if count > 1, let resume = Self.splicePoint(dwarf: user, chain: chain.user) {
                user += chain.user[resume...]
                return UnwoundStack(kernel: chain.kernel, user: user, outcome: .spliced)
            }
            if count <= 1 && chain.user.count > 1 { return chain }
        default:
            break
        }
        return UnwoundStack(kernel: chain.kernel, user: user,
                            outcome: outcome == CPerfProbeUnwind_truncated ? .truncated : .failed)
    }

    /// Where the frame-pointer chain continues a DWARF stack that stopped
    /// early, if it agrees with it: at the same depth when the chain matches
    /// every DWARF frame; else after the DWARF stack's last frame, when that
    /// frame occurs once in the chain (recursion repeats return addresses).
    static func splicePoint(dwarf: [UInt64], chain: [UInt64]) -> Int? {
        guard let last = dwarf.last, chain.count > dwarf.count || chain.contains(last) else { return nil }
        if chain.count > dwarf.count, chain.prefix(dwarf.count).elementsEqual(dwarf) { return dwarf.count }
        let matches = chain.indices.dropFirst().filter { chain[$0] == last }
        guard matches.count == 1, matches[0] + 1 < chain.count else { return nil }
        return matches[0] + 1
    }

    /// The process's module segments at their target addresses, sorted;
    /// rebuilt when its mappings change.
    private mutating func segmentTable(for pid: ProcessID, spaces: AddressSpaces)
        -> (segments: [CPerfProbeUnwind_Segment], generation: Int) {
        let (mappings, generation) = spaces.mappings(of: pid)
        if let cached = tables[pid], cached.generation == generation { return (cached.segments, generation) }
        var entries: [(segment: CPerfProbeUnwind_Segment, isSynthetic: Bool)] = []
        for (mapping, index) in mappings {
            guard let module = load(index, spaces.modules[Int(index)]) else { continue }
            entries += module.segments(mappedBy: mapping)
        }
        entries.sort { $0.segment.start < $1.segment.start }
        // A module's synthetic CFI sits in a gap of its own address range; if
        // another module was mapped there, the lookup table must not hold two
        // segments at one address: the synthetic one yields.
        var segments: [CPerfProbeUnwind_Segment] = []
        var yielded = Set<UInt64>()
        for (position, entry) in entries.enumerated() {
            let end = entry.segment.start &+ entry.segment.size
            let overlapsNext = position + 1 < entries.count && end > entries[position + 1].segment.start
            let overlapsPrevious = segments.last.map { $0.start &+ $0.size > entry.segment.start } ?? false
            if entry.isSynthetic && (overlapsNext || overlapsPrevious) {
                yielded.insert(entry.segment.start)
                continue
            }
            segments.append(entry.segment)
        }
        if !yielded.isEmpty {
            for index in segments.indices where yielded.contains(segments[index].eh_frame_hdr) { segments[index].eh_frame_hdr = 0 }
        }
        tables[pid] = (generation, segments)
        return (segments, generation)
    }

    private mutating func load(_ index: Int32, _ module: Module) -> UnwindModule? {
        if let known = modules[index] { return known }
        var loaded: UnwindModule?
        if module.path.hasPrefix("[") && module.path != "[vdso]" && module.path != Module.jit {
            return nil // [vsyscall] and the like: no file, and no code of the target's
        } else if module.path == "[vdso]" {
            loaded = (try? SharedElfFile(image: VirtualDSO.image, name: "[vdso]")).map(UnwindModule.init)
        } else {
            // A plain loop: `lazy.compactMap { try? … }` over this typed-throwing
            // initializer compiled (Swift 6.3, -O) to a trap when it threw
            // (a target gone before its module was read).
            for path in module.candidatePaths {
                if let file = try? SharedElfFile.open(path) {
                    loaded = UnwindModule(file: file)
                    break
                }
            }
        }
        if loaded?.searchTable == nil { modulesWithoutUnwindInfo.insert(module.name) }
        modules[index] = loaded
        return loaded
    }
}
