/// The tracepoints of an allocator plan: the entry uprobes of allocating
/// functions (every call: registers and return address), of reallocating
/// ones (every call) and of freeing ones (the frees of sampled blocks), each
/// of the last two per pointer register, and the uretprobes of allocating
/// ones (calls chosen at random, with a stack copy) on the same first
/// instruction, where they share its breakpoint. Each is one tracefs event
/// holding many probe points, with one BPF program
/// (`AllocatorProbePrograms`). An entry's site is told by its address; a
/// return is paired with its entry by the stack pointer.
struct AllocatorProbeEvents: Sendable {
    enum Kind: Sendable {
        case entry
        case `return`
    }

    struct Event: Sendable {
        var kind: Kind
        var role: AllocatorProbePrograms.Probe.Role
        var sites: [Int]
        /// Its tracepoint (`TracefsUprobes`).
        var tracepoint: UInt64
        /// Part of allocation tracking proper (off outside the heap window);
        /// frees stay on so that blocks allocated in the window are released.
        var allocating: Bool
    }

    let plan: AllocatorProbePlan
    let events: [Event]

    /// Defines each event's probes in `uprobes`.
    init(plan: AllocatorProbePlan, uprobes: TracefsUprobes) throws(HeapProbeError) {
        self.plan = plan
        let sites = plan.sites.indices
        var groups: [(AllocatorProbePrograms.Probe.Role, [Int])] = [(.entry, sites.filter { plan.sites[$0].function.role == .alloc })]
        for role in [AllocatorDefinition.Role.realloc, .free] {
            let members = sites.filter { plan.sites[$0].function.role == role }
            for pointer in Set(members.compactMap { plan.sites[$0].function.pointer }).sorted(by: { $0.perfIndex < $1.perfIndex }) {
                groups.append((role == .free ? .freeEntry(pointer: pointer) : .reallocEntry(pointer: pointer),
                               members.filter { plan.sites[$0].function.pointer == pointer }))
            }
        }
        groups.append((.return, sites.filter { plan.sites[$0].function.role != .free }))
        var events: [Event] = []
        for (role, members) in groups where !members.isEmpty {
            let probe = AllocatorProbePrograms.Probe(tracepoint: 0, role: role)
            let id = try uprobes.eventID(path: plan.openPath, isReturn: probe.isReturn,
                                         offsets: members.map { plan.sites[$0].fileOffset + UInt64(plan.sites[$0].placement) })
            let allocating: Bool
            switch role {
            case .entry, .return: allocating = true
            case .reallocEntry, .freeEntry: allocating = false
            }
            events.append(Event(kind: probe.isReturn ? .return : .entry, role: role, sites: members, tracepoint: id, allocating: allocating))
        }
        self.events = events
    }

    /// The events as their programs see them, in `events` order.
    var probes: [AllocatorProbePrograms.Probe] {
        events.map { AllocatorProbePrograms.Probe(tracepoint: $0.tracepoint, role: $0.role) }
    }
}
