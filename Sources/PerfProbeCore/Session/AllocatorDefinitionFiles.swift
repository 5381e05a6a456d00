import FoundationEssentials

/// The allocator definitions `attach --heap` knows: probes/allocators/*.alloc,
/// installed next to the perfprobe binary by probes/Makefile (or the folder
/// PERFPROBE_ALLOCATORS names), plus files given with --allocator, which are
/// tried first.
enum AllocatorDefinitionFiles {
    static func load(extra: [String]) throws(HeapProbeError) -> [AllocatorDefinition] {
        let directory: String
        if let configured = ProcessInfo.processInfo.environment["PERFPROBE_ALLOCATORS"] {
            directory = configured
        } else {
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            directory = executable.deletingLastPathComponent().appendingPathComponent("allocators").path
        }
        let bundled = Syscalls.listDirectory(directory).filter { $0.hasSuffix(".alloc") }.sorted().map { directory + "/" + $0 }
        guard !bundled.isEmpty || !extra.isEmpty else { throw .noDefinitions(searched: [directory]) }
        var definitions: [AllocatorDefinition] = []
        for path in extra + bundled {
            guard let bytes = try? Syscalls.readFile(path) else {
                throw .badDefinition(path, AllocatorDefinition.ParseError(line: 0, message: "cannot be read"))
            }
            do {
                definitions.append(try AllocatorDefinition.parse(String(decoding: bytes, as: UTF8.self)))
            } catch {
                throw .badDefinition(path, error)
            }
        }
        return definitions
    }
}
