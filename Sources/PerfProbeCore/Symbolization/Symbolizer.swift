/// Resolves frames to function names: each module's symbol table is loaded
/// once (on first use) and each unique frame is looked up once.
public struct Symbolizer {
    private struct ModuleSymbols {
        var table: SymbolTable
        var segments: [ElfFile.LoadSegment]
        var buildID: [UInt8]?

        /// Converts a file offset to the virtual address the symbol table uses
        /// (PIE and shared libraries: the load bias is already gone).
        func virtualAddress(forFileOffset offset: UInt64) -> UInt64 {
            for segment in segments where offset >= segment.offset && offset < segment.offset + max(segment.fileSize, 1) {
                return offset - segment.offset + segment.virtualAddress
            }
            return offset
        }
    }

    private let modules: [Module]
    private var loaded: [Int32: ModuleSymbols?] = [:]
    private var kernelTable: KernelSymbols?
    private var cache: [Frame: SymbolizedFrame] = [:]
    /// Symbol tables by build-id: the same library mapped from two paths
    /// (two containers, a copy) is read once.
    private var byBuildID: [[UInt8]: ModuleSymbols] = [:]
    /// Modules whose file could not be read, with the reason.
    public private(set) var unreadableModules: [String: String] = [:]

    private let demangle: Bool
    private let perfMaps: [ProcessID: [UInt8]]

    /// `perfMaps`: JIT symbol files captured while their processes ran.
    /// `demangle: false` keeps linker names (`_ZN3Foo3barEv`).
    public init(modules: [Module], perfMaps: [ProcessID: [UInt8]] = [:], demangle: Bool = true) {
        self.modules = modules
        self.perfMaps = perfMaps
        self.demangle = demangle
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

    /// The build-id of a module, once its file has been read.
    public func buildID(ofModule index: Int32) -> [UInt8]? {
        loaded[index].flatMap { $0?.buildID }
    }

    private mutating func symbolizeKernel(_ address: UInt64) -> SymbolizedFrame {
        if kernelTable == nil {
            kernelTable = KernelSymbols.read()
        }
        if let name = kernelTable?.lookup(address) {
            return SymbolizedFrame(function: name, module: "[kernel]", kernel: true, symbolized: true)
        }
        return SymbolizedFrame(function: "0x" + String(address, radix: 16), module: "[kernel]", kernel: true, symbolized: false)
    }

    private mutating func symbolizeUser(_ frame: Frame) -> SymbolizedFrame {
        let module = modules[Int(frame.module)]
        if loaded[frame.module] == nil { loaded[frame.module] = load(module) }
        if let symbols = loaded[frame.module] ?? nil,
           let symbol = symbols.table.lookup(symbols.virtualAddress(forFileOffset: frame.address)) {
            return SymbolizedFrame(function: demangle ? Demangler.demangle(symbol.name) : symbol.name,
                                   module: module.name, kernel: false, symbolized: true)
        }
        return SymbolizedFrame(function: "\(module.name)+0x\(String(frame.address, radix: 16))",
                               module: module.name, kernel: false, symbolized: false)
    }

    private mutating func load(_ module: Module) -> ModuleSymbols? {
        switch module.path {
        case Module.jit:
            let map = "/tmp/perf-\(module.pid).map"
            let bytes = perfMaps[module.pid] ?? (try? Syscalls.readFile("/proc/\(module.pid)/root" + map)) ?? (try? Syscalls.readFile(map))
            guard let bytes else { return nil }
            return ModuleSymbols(table: PerfMapFile.parse(Substring(decoding: bytes, as: UTF8.self)), segments: [], buildID: nil)
        case "[vdso]":
            guard let elf = try? ElfFile(bytes: VirtualDSO.image, name: "[vdso]") else { return nil }
            return ModuleSymbols(table: SymbolTable(elf.functionSymbols), segments: elf.loadSegments, buildID: elf.buildID)
        default:
            return loadFile(module)
        }
    }

    private mutating func loadFile(_ module: Module) -> ModuleSymbols? {
        var failure: ElfError?
        for path in module.candidatePaths {
            do {
                let elf = try ElfFile(path: path)
                let buildID = elf.buildID
                if let buildID, let known = byBuildID[buildID] { return known }
                var symbols = elf.functionSymbols
                // A separate debug file has the full .symtab of a stripped module.
                let root = "/proc/\(module.pid)/root"
                for candidate in DebugFiles.candidates(buildID: buildID, debugLink: elf.debugLink, modulePath: module.path) {
                    guard let debug = (try? ElfFile(path: root + candidate)) ?? (try? ElfFile(path: candidate)) else { continue }
                    let full = debug.functionSymbols
                    if full.count > symbols.count { symbols = full }
                    break
                }
                let loaded = ModuleSymbols(table: SymbolTable(symbols), segments: elf.loadSegments, buildID: buildID)
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
