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
    private var kernelTable: SymbolTable?
    private var cache: [Frame: SymbolizedFrame] = [:]
    /// Modules whose file could not be read, with the reason.
    public private(set) var unreadableModules: [String: String] = [:]

    public init(modules: [Module]) {
        self.modules = modules
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
            kernelTable = KernelSymbols.parse((try? Syscalls.readFile("/proc/kallsyms")) ?? [])
        }
        if let symbol = kernelTable?.lookup(address) {
            return SymbolizedFrame(function: symbol.name, module: "[kernel]", kernel: true, symbolized: true)
        }
        return SymbolizedFrame(function: "0x" + String(address, radix: 16), module: "[kernel]", kernel: true, symbolized: false)
    }

    private mutating func symbolizeUser(_ frame: Frame) -> SymbolizedFrame {
        let module = modules[Int(frame.module)]
        if loaded[frame.module] == nil { loaded[frame.module] = load(module) }
        if let symbols = loaded[frame.module] ?? nil,
           let symbol = symbols.table.lookup(symbols.virtualAddress(forFileOffset: frame.address)) {
            return SymbolizedFrame(function: symbol.name, module: module.name, kernel: false, symbolized: true)
        }
        return SymbolizedFrame(function: "\(module.name)+0x\(String(frame.address, radix: 16))",
                               module: module.name, kernel: false, symbolized: false)
    }

    private mutating func load(_ module: Module) -> ModuleSymbols? {
        do {
            if module.path == "[vdso]" {
                let elf = try ElfFile(bytes: Self.ownVDSO(), name: "[vdso]")
                return ModuleSymbols(table: SymbolTable(elf.functionSymbols), segments: elf.loadSegments, buildID: elf.buildID)
            }
            // Through the target's root first: it may live in another mount namespace.
            let elf: ElfFile
            do {
                elf = try ElfFile(path: "/proc/\(module.pid)/root\(module.path)")
            } catch {
                elf = try ElfFile(path: module.path)
            }
            return ModuleSymbols(table: SymbolTable(elf.functionSymbols), segments: elf.loadSegments, buildID: elf.buildID)
        } catch {
            unreadableModules[module.path] = error.description
            return nil
        }
    }

    /// The vDSO is the same image in every process on a kernel: copy ours.
    private static func ownVDSO() -> [UInt8] {
        let maps = (try? Syscalls.readFile("/proc/self/maps")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard let vdso = MemoryMapping.parseProcMaps(Substring(maps)).first(where: { $0.path == "[vdso]" }),
              let start = UnsafeRawPointer(bitPattern: UInt(vdso.start)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: start, count: Int(vdso.end - vdso.start)))
    }
}
