/// Why `--heap` could not trace allocations: `run --heap`'s probe library,
/// `attach --heap`'s allocator probes. Setup errors (exit 2).
public enum HeapProbeError: Error, Sendable, CustomStringConvertible {
    /// The preloaded probe of `run --heap` is not where it is looked for.
    case probeLibraryMissing(String)
    /// No known allocator's library is mapped (a static binary, an unknown allocator).
    case noAllocator(pid: ProcessID?, known: [String])
    case unreadableLibrary(String, String)
    case badDefinition(String, AllocatorDefinition.ParseError)
    case noDefinitions(searched: [String])
    /// No writable tracefs `uprobe_events` (CONFIG_UPROBE_EVENTS off, or no tracefs).
    case uprobesUnavailable
    /// tracefs would not define a probe on the library.
    case probeRefused(String, String)
    /// The kernel refused the probes' BPF maps or programs (what, why).
    case bpf(String, String)

    public var description: String {
        switch self {
        case .probeLibraryMissing(let path):
            return "the heap probe library is missing at \(path): build it with 'make -C probes OUT=<the folder of the perfprobe binary>' (or set PERFPROBE_HEAP_PROBE)"
        case .noAllocator(let pid, let known):
            let whose = pid.map { "process \($0) maps" } ?? "the library exports"
            return "\(whose) no allocator perfprobe knows (\(known.joined(separator: ", "))): add a definition file (see probes/allocators/glibc.alloc) with --allocator FILE"
        case .unreadableLibrary(let path, let reason):
            return "cannot read the allocator library \(path): \(reason)"
        case .badDefinition(let path, let error):
            return "allocator definition \(path), \(error)"
        case .noDefinitions(let searched):
            return "no allocator definitions (*.alloc) in \(searched.joined(separator: " or ")): build with 'make -C probes OUT=<the folder of the perfprobe binary>' (or set PERFPROBE_ALLOCATORS)"
        case .uprobesUnavailable:
            return "no writable uprobe_events in tracefs (/sys/kernel/tracing, which perfprobe mounts if it can): attach --heap needs CONFIG_UPROBE_EVENTS; run --heap works without it"
        case .probeRefused(let path, let reason):
            return "cannot place a uprobe on \(path): \(reason)"
        case .bpf(let what, let reason):
            return "\(what): the kernel refused it (\(reason)); attach --heap needs BPF ring buffers (Linux 5.8) and root or CAP_BPF with CAP_PERFMON; run --heap works without them"
        }
    }
}
