import Dispatch

/// Resolves frames to function names, and with DWARF to inline chains and
/// source lines. A module's file is read once for the addresses a profile
/// needs (`prepare`), in one pass over its symbol table; tables and DWARF
/// are shared by build-id, and each unique frame is looked up once.
public struct Symbolizer {
    /// What is known of one module's symbols. A class: modules with the same
    /// build-id share one.
    private final class ModuleSymbols {
        var table: SymbolTable
        let segments: [ElfFile.LoadSegment]
        /// The file whose symbol table answers (the module, or its debug
        /// file); nil when `table` is complete (vDSO, JIT maps).
        let symbolFile: SharedElfFile?
        /// Virtual addresses already resolved into `table`.
        var resolved: Set<UInt64> = []
        /// The module's own file, whose CFI says where functions no symbol
        /// names begin and end; read the first time such a frame is seen.
        let moduleFile: SharedElfFile?
        /// Files that may hold the module's DWARF, its own first.
        let debugPaths: [String]
        private var debugInfo: ModuleDebugInfo??
        private var cfi: (functions: [CallFrameInformation.FunctionRange], entry: UInt64?)?

        init(table: SymbolTable, segments: [ElfFile.LoadSegment], symbolFile: SharedElfFile?, moduleFile: SharedElfFile? = nil,
             debugPaths: [String] = []) {
            self.table = table
            self.segments = segments
            self.symbolFile = symbolFile
            self.moduleFile = moduleFile
            self.debugPaths = debugPaths
        }

        /// The module's DWARF, opened the first time a frame needs it.
        func debugInfo(lines: Bool) -> ModuleDebugInfo? {
            if debugInfo == nil { debugInfo = .some(ModuleDebugInfo(paths: debugPaths, lines: lines)) }
            return debugInfo ?? nil
        }

        /// Lets the DWARF go (opened again if a frame not yet located needs it).
        func closeDebugInfo() { debugInfo = nil }

        /// The FDE range holding `address` (a virtual address) where no
        /// symbol does, and whether it is the entry point's code: a stripped
        /// file's `.eh_frame` still groups its code into functions. Entry
        /// code written in assembly may have no FDE (the dynamic loader's
        /// `_start` and `_dl_start_user`): the stretch from the entry point
        /// to the next FDE counts as the entry's.
        func unnamedFunction(at address: UInt64) -> (start: UInt64, isEntry: Bool)? {
            if cfi == nil {
                cfi = moduleFile?.read { ($0.callFrameInformation?.functions ?? [], $0.programEntry) } ?? ([], nil)
            }
            guard let cfi else { return nil }
            let range = cfi.functions.last(atOrBelow: address, by: \.start)
            if let range, address < range.end { return (range.start, range.start == cfi.entry) }
            if let entry = cfi.entry, address >= entry, address - entry < 4096, (range?.start ?? 0) <= entry {
                return (entry, true)
            }
            return nil
        }

        /// Converts a file offset to the virtual address the symbol table uses
        /// (PIE and shared libraries: the load bias is already gone).
        func virtualAddress(forFileOffset offset: UInt64) -> UInt64 {
            // Segment fields are the file's numbers: subtraction and wrapping sums only.
            for segment in segments where offset >= segment.offset && offset - segment.offset < max(segment.fileSize, 1) {
                return offset - segment.offset &+ segment.virtualAddress
            }
            return offset
        }

        /// The inverse of `virtualAddress(forFileOffset:)`.
        func fileOffset(forVirtualAddress address: UInt64) -> UInt64 {
            for segment in segments where address >= segment.virtualAddress && address - segment.virtualAddress < max(segment.fileSize, 1) {
                return address - segment.virtualAddress &+ segment.offset
            }
            return address
        }

        /// Adds the symbols covering `offsets` not yet resolved.
        func resolve(fileOffsets offsets: [UInt64]) {
            // An address inside a sized symbol already read needs no new pass over the file.
            let addresses = offsets.map(virtualAddress).filter { address in
                !resolved.contains(address) && !(table.lookup(address).map { $0.size > 0 } ?? false)
            }
            guard let symbolFile, !addresses.isEmpty else { return }
            table.add(symbolFile.read { $0.functionSymbols(covering: addresses) })
            resolved.formUnion(addresses)
        }
    }

    private var modules: [Module]
    private var loaded: [Int32: ModuleSymbols?] = [:]
    private var cache: [Frame: SymbolizedFrame] = [:]
    private var locations: [Frame: SymbolizedLocation] = [:]
    private var starts: [Frame: Frame] = [:]
    /// Symbol tables by build-id: the same library mapped from two paths
    /// (two containers, a copy) is read once.
    private var byBuildID: [[UInt8]: ModuleSymbols] = [:]
    /// Modules whose file could not be read, with the reason.
    public private(set) var unreadableModules: [String: String] = [:]
    /// GNU build-ids (hex) of the module files read, by path.
    public private(set) var buildIDs: [String: String] = [:]
    /// The executable segment of each module file read, by path: pprof's mapping.
    private(set) var textSegments: [String: ElfFile.LoadSegment] = [:]
    private let settings: SymbolizerSettings
    private var demangle: Bool { settings.demangle }
    private var perfMaps: [ProcessID: PerfMap]
    /// Kernel symbols read for the addresses `prepare` was given, and those
    /// addresses; nil when the whole table is used.
    private var kernelSymbols: (table: KernelSymbols, covered: Set<UInt64>)?
    private let longLived: Bool

    /// `perfMaps`: JIT symbol files read while their processes ran.
    /// `settings`: demangling (off keeps linker names, `_ZN3Foo3barEv`),
    /// inline chains and source lines. `longLived`: a symbolizer that
    /// outlives many reports (the sidecar's) keeps every kernel symbol
    /// (read once per process) and each module's DWARF open; else `prepare`
    /// reads only the kernel symbols its frames need, and a module's DWARF
    /// only while it locates that module's frames.
    public init(modules: [Module], perfMaps: [ProcessID: PerfMap] = [:], settings: SymbolizerSettings = SymbolizerSettings(),
                longLived: Bool = false) {
        self.modules = modules
        self.perfMaps = perfMaps
        self.settings = settings
        self.longLived = longLived
    }

    /// Takes in the modules a sampler found since: its module list only grows,
    /// so indices already known keep their meaning.
    /// A perf map that grew since (a long-lived symbolizer's JIT names)
    /// replaces what was read of it before.
    public mutating func update(modules: [Module], perfMaps: [ProcessID: PerfMap]) {
        if modules.count > self.modules.count { self.modules = modules }
        for (pid, map) in perfMaps where map.entries.count != self.perfMaps[pid]?.entries.count {
            self.perfMaps[pid] = map
            let stale = Set(self.modules.indices.filter { self.modules[$0].path == Module.jit && self.modules[$0].pid == pid }.map(Int32.init))
            for index in stale { loaded[index] = nil }
            cache = cache.filter { !stale.contains($0.key.module) }
            locations = locations.filter { !stale.contains($0.key.module) }
            starts = starts.filter { !stale.contains($0.key.module) }
        }
    }

    /// Whether `functionStart` has seen `frame` already.
    public func knowsStart(of frame: Frame) -> Bool { starts[frame] != nil }

    /// The frame at the start of `frame`'s function: it symbolizes the same,
    /// and stacks that differ only in where within their functions they were
    /// sampled become one (what a long-running aggregate needs to stay as
    /// small as the program's call paths). Frames no symbol covers stay.
    public mutating func functionStart(_ frame: Frame) -> Frame {
        if let known = starts[frame] { return known }
        var start = frame
        switch frame.module {
        case Frame.kernel:
            if let address = KernelSymbols.running.start(of: frame.address) { start.address = address }
        case Frame.unknown:
            break
        default:
            if let symbols = symbols(of: frame.module) {
                symbols.resolve(fileOffsets: [frame.address])
                let address = symbols.virtualAddress(forFileOffset: frame.address)
                if let symbol = symbols.table.lookup(address) {
                    start.address = symbols.fileOffset(forVirtualAddress: symbol.address)
                } else if let function = symbols.unnamedFunction(at: address) {
                    start.address = symbols.fileOffset(forVirtualAddress: function.start)
                }
            }
        }
        starts[frame] = start
        return start
    }

    /// The frame a long-lived aggregate keeps for `frame`: the first address
    /// of its source line (and inline chain) where DWARF tells, so that the
    /// lines stay right; else the start of its function.
    public mutating func lineStart(_ frame: Frame) -> Frame {
        if let known = starts[frame] { return known }
        guard settings.readsDebugInfo, frame.module >= 0, let symbols = symbols(of: frame.module),
              let info = symbols.debugInfo(lines: settings.lines),
              let start = info.lineStart(at: symbols.virtualAddress(forFileOffset: frame.address)) else { return functionStart(frame) }
        var merged = frame
        merged.address = symbols.fileOffset(forVirtualAddress: start)
        starts[frame] = merged
        return merged
    }

    /// Reads every module's symbols for all of `frames` at once, and
    /// locates them module by module, each module's DWARF closed before the
    /// next is opened: decompressed debug sections and decoded line tables
    /// of several big modules are never all in memory at once. Optional:
    /// `symbolize` and `locate` resolve what was not prepared, a read per call.
    public mutating func prepare(_ frames: some Sequence<Frame>) {
        let frames = Array(frames)
        // /proc/kallsyms takes a tenth of a second to read: on another CPU, while the modules are read here.
        var kernelReading: (done: DispatchSemaphore, table: Locked<KernelSymbols?>, covered: Set<UInt64>)?
        if !longLived {
            let kernel = Set(frames.lazy.filter { $0.module == Frame.kernel }.map(\.address)).union(kernelSymbols?.covered ?? [])
            if !kernel.isEmpty && kernel != kernelSymbols?.covered {
                let reading = (done: DispatchSemaphore(value: 0), table: Locked<KernelSymbols?>(nil), covered: kernel)
                DispatchQueue.global().async {
                    reading.table.withLock { $0 = KernelSymbols.read(covering: kernel) }
                    reading.done.signal()
                }
                kernelReading = reading
            }
        }
        defer {
            if let kernelReading {
                kernelReading.done.wait()
                if let table = kernelReading.table.withLock({ $0 }) { kernelSymbols = (table, kernelReading.covered) }
            }
        }
        for (module, offsets) in Dictionary(grouping: frames.filter { $0.module >= 0 }, by: \.module) {
            guard let symbols = symbols(of: module) else { continue }
            symbols.resolve(fileOffsets: offsets.map(\.address))
            guard settings.readsDebugInfo, !longLived else { continue }
            for frame in offsets { _ = locate(frame) }
            symbols.closeDebugInfo()
        }
    }

    public mutating func symbolize(_ frame: Frame) -> SymbolizedFrame {
        if let known = cache[frame] { return known }
        let result: SymbolizedFrame
        switch frame.module {
        case Frame.kernel:
            result = symbolizeKernel(frame.address)
        case Frame.unknown:
            result = SymbolizedFrame(function: "[unknown]", module: "[unknown]", kernel: false, symbolized: false)
        default:
            result = symbolizeUser(frame)
        }
        cache[frame] = result
        return result
    }

    /// `frame` as source: its function with, where the module has DWARF and
    /// the settings ask, the functions inlined at its address and the lines.
    public mutating func locate(_ frame: Frame) -> SymbolizedLocation {
        if let known = locations[frame] { return known }
        let function = symbolize(frame)
        var location = SymbolizedLocation(address: frame.address, levels: [.init(frame: function, file: nil, line: nil)])
        if frame.module >= 0, let symbols = symbols(of: frame.module), !symbols.segments.isEmpty {
            location.address = symbols.virtualAddress(forFileOffset: frame.address)
            if settings.readsDebugInfo, function.symbolized, let info = symbols.debugInfo(lines: settings.lines) {
                let levels = info.levels(at: location.address)
                let kept = settings.inlines ? levels : Array(levels.suffix(1))
                if !kept.isEmpty {
                    location.levels = kept.map { level in
                        let frame = level.name.map {
                            SymbolizedFrame(function: demangle ? Demangler.demangle($0) : $0, module: function.module, kernel: false, symbolized: true)
                        } ?? function
                        return .init(frame: frame, file: level.file, line: level.line)
                    }
                }
            }
        }
        locations[frame] = location
        return location
    }

    private mutating func symbolizeKernel(_ address: UInt64) -> SymbolizedFrame {
        let table = kernelSymbols.flatMap { $0.covered.contains(address) ? $0.table : nil } ?? KernelSymbols.running
        if let name = table.lookup(address) {
            return SymbolizedFrame(function: name, module: "[kernel]", kernel: true, symbolized: true)
        }
        return SymbolizedFrame(function: "0x" + String(address, radix: 16), module: "[kernel]", kernel: true, symbolized: false)
    }

    /// A frame no symbol names is `module+0xOFFSET`, the file offset of the
    /// start of the FDE holding it (of the frame itself where no FDE does):
    /// samples in one function of a stripped module add up as one. An
    /// unnamed entry point (the program's or the loader's) is `_start`.
    private mutating func symbolizeUser(_ frame: Frame) -> SymbolizedFrame {
        let module = modules[Int(frame.module)]
        var offset = frame.address
        if let symbols = symbols(of: frame.module) {
            symbols.resolve(fileOffsets: [frame.address])
            let address = symbols.virtualAddress(forFileOffset: frame.address)
            if let symbol = symbols.table.lookup(address) {
                return SymbolizedFrame(function: demangle ? Demangler.demangle(symbol.name) : symbol.name,
                                       module: module.name, kernel: false, symbolized: true)
            }
            if let function = symbols.unnamedFunction(at: address) {
                if function.isEntry { return SymbolizedFrame(function: "_start", module: module.name, kernel: false, symbolized: true) }
                offset = symbols.fileOffset(forVirtualAddress: function.start)
            }
        }
        return SymbolizedFrame(function: "\(module.name)+0x\(String(offset, radix: 16))",
                               module: module.name, kernel: false, symbolized: false)
    }

    private mutating func symbols(of index: Int32) -> ModuleSymbols? {
        if let known = loaded[index] { return known }
        let symbols = load(modules[Int(index)])
        loaded[index] = symbols
        return symbols
    }

    private mutating func load(_ module: Module) -> ModuleSymbols? {
        switch module.path {
        case Module.jit:
            guard let map = perfMaps[module.pid] else { return nil }
            return ModuleSymbols(table: PerfMapFile.table(map.entries), segments: [], symbolFile: nil)
        case "[vdso]":
            guard let elf = try? ElfFile(bytes: VirtualDSO.image, name: "[vdso]") else { return nil }
            return ModuleSymbols(table: SymbolTable(elf.functionSymbols), segments: elf.loadSegments, symbolFile: nil)
        default:
            return loadFile(module)
        }
    }

    /// Opens the module's file; its symbols are read later, for the addresses needed.
    private mutating func loadFile(_ module: Module) -> ModuleSymbols? {
        var failure: ElfError?
        for path in module.candidatePaths {
            do {
                let file = try SharedElfFile.open(path)
                let (buildID, debugLink, symbolCount, segments) = file.read { ($0.buildID, $0.debugLink, $0.symbolCount, $0.loadSegments) }
                if let buildID { buildIDs[module.path] = buildID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
                if let text = segments.first(where: \.executable) { textSegments[module.path] = text }
                if let buildID, let known = byBuildID[buildID] { return known }
                // A separate debug file has the full .symtab of a stripped module, and its DWARF.
                var symbolFile = file
                var debugPaths = [path]
                let root = "/proc/\(module.pid)/root"
                search: for candidate in DebugFiles.candidates(buildID: buildID, debugLink: debugLink, modulePath: module.path) {
                    for debugPath in [root + candidate, candidate] {
                        guard let debug = try? SharedElfFile.open(debugPath) else { continue }
                        debugPaths.append(debugPath)
                        if debug.read({ $0.symbolCount }) > symbolCount {
                            symbolFile = debug
                            break search
                        }
                        break
                    }
                }
                let loaded = ModuleSymbols(table: SymbolTable([]), segments: segments, symbolFile: symbolFile, moduleFile: file,
                                           debugPaths: debugPaths)
                if let buildID { byBuildID[buildID] = loaded }
                return loaded
            } catch {
                failure = failure ?? error
            }
        }
        unreadableModules[module.path] = failure?.description ?? "unreadable"
        return nil
    }
}
