/// The memory mappings of every followed process, kept up to date from
/// MMAP2/COMM/FORK records (applied in time order), so each address resolves
/// against the mappings live when it was sampled — dlopen'd libraries and
/// exec'd images included.
public struct AddressSpaces {
    private struct Space {
        /// Sorted by start, non-overlapping.
        var mappings: [(mapping: MemoryMapping, module: Int32)] = []
        /// Whether /proc/PID/maps was read since the last exec.
        var readProc = false
        /// Bumped on every change, so derived tables know when to rebuild.
        var generation = 0
    }

    private var spaces: [ProcessID: Space] = [:]
    private var moduleIndex: [Module: Int32] = [:]
    private(set) var modules: [Module] = []
    /// Processes with executable anonymous memory (JIT code).
    private(set) var jitProcesses: Set<ProcessID> = []

    mutating func map(_ mapping: MemoryMapping, in pid: ProcessID) {
        guard mapping.executable, mapping.end > mapping.start else { return }
        // perf names anonymous memory "//anon"; /proc/PID/maps leaves it blank.
        let anonymous = mapping.path.isEmpty || mapping.path == "//anon" || mapping.path.hasPrefix("[anon")
        let path = anonymous ? Module.jit : mapping.path
        let mapFile = String(mapping.start, radix: 16) + "-" + String(mapping.end, radix: 16)
        let module = intern(Module(path: path, inode: mapping.inode, pid: pid, mapFile: anonymous ? "" : mapFile))
        if anonymous { jitProcesses.insert(pid) }
        var space = spaces[pid, default: Space()]
        // A new mapping replaces whatever overlapped it, as mmap(MAP_FIXED) does.
        var kept = space.mappings.filter { $0.mapping.end <= mapping.start || $0.mapping.start >= mapping.end }
        let at = kept.firstIndex { $0.mapping.start > mapping.start } ?? kept.count
        kept.insert((mapping, module), at: at)
        space.mappings = kept
        space.generation += 1
        spaces[pid] = space
    }

    /// execve: the old image is gone.
    /// Whether a process of the session was seen (by its records or its maps).
    func knows(_ pid: ProcessID) -> Bool { spaces[pid] != nil }

    mutating func exec(_ pid: ProcessID) {
        spaces[pid] = Space(generation: (spaces[pid]?.generation ?? 0) + 1)
    }

    /// fork: the child starts with a copy of the parent's mappings.
    mutating func fork(_ child: ProcessID, from parent: ProcessID) {
        guard child != parent, spaces[child] == nil else { return }
        var space = spaces[parent] ?? Space()
        space.readProc = false
        spaces[child] = space
    }

    /// Adds the mappings of /proc/PID/maps (attach, or a record that was missed).
    mutating func load(procMaps: [MemoryMapping], for pid: ProcessID) {
        for mapping in procMaps { map(mapping, in: pid) }
        spaces[pid, default: Space()].readProc = true
    }

    /// The executable mappings of `pid` by start address, with their module
    /// indices, and a number that changes whenever they do.
    func mappings(of pid: ProcessID) -> (mappings: [(mapping: MemoryMapping, module: Int32)], generation: Int) {
        guard let space = spaces[pid] else { return ([], 0) }
        return (space.mappings, space.generation)
    }

    /// Resolves `address` of `pid` (see `learnMapping`).
    mutating func frame(for address: UInt64, in pid: ProcessID) -> Frame {
        if let frame = lookup(address, in: pid) { return frame }
        learnMapping(of: address, in: pid)
        return lookup(address, in: pid) ?? Frame(module: Frame.unknown, address: address)
    }

    /// Reads /proc/PID/maps when `address` falls outside every known
    /// mapping of `pid` (a record that was missed), at most once per image.
    mutating func learnMapping(of address: UInt64, in pid: ProcessID) {
        guard lookup(address, in: pid) == nil, spaces[pid]?.readProc != true else { return }
        load(procMaps: MemoryMapping.read(of: pid), for: pid)
    }

    private func lookup(_ address: UInt64, in pid: ProcessID) -> Frame? {
        guard let (mapping, module) = spaces[pid]?.mappings.last(atOrBelow: address, by: \.mapping.start),
              mapping.contains(address) else { return nil }
        switch modules[Int(module)].path {
        case Module.jit:
            // JIT code has no file: keep the address, for /tmp/perf-PID.map.
            return Frame(module: module, address: address)
        case let path where path.hasPrefix("["):
            return path == "[vdso]" ? Frame(module: module, address: address - mapping.start) : Frame(module: Frame.unknown, address: address)
        default:
            return Frame(module: module, address: address - mapping.start &+ mapping.fileOffset)
        }
    }

    private mutating func intern(_ module: Module) -> Int32 {
        // One module per file, whichever process maps it; JIT code is per process.
        var key = module
        key.mapFile = ""
        if module.path != Module.jit { key.pid = ProcessID(0) }
        if let index = moduleIndex[key] { return index }
        let index = Int32(modules.count)
        modules.append(module)
        moduleIndex[key] = index
        return index
    }
}
