/// The perf events of an allocator plan: the entry uprobes of allocating
/// functions (every call: registers and return address), the entry uprobes
/// of freeing ones (free at its placement, realloc), and the uretprobes of
/// allocating ones (calls chosen at a rate the agent adapts to the call
/// rate, with a stack copy: `ReturnSelection`) on the same first
/// instruction, where they share its breakpoint.
/// Each is one tracefs event holding many probe points, so a thread carries
/// three events a CPU whatever the allocator: every event is copied into
/// each thread the target starts, at a cost per event (the kernel looks a
/// tracepoint up among all of them), which with one event per probe made a
/// thread start cost ~1 ms. An entry's site is told by its address; a
/// return is paired with its entry by the stack pointer.
struct AllocatorProbeEvents: Sendable {
    enum Kind: Sendable {
        case entry
        case `return`
    }

    struct Event: Sendable {
        var kind: Kind
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
        let groups: [(Kind, [Int], Bool)] = [
            (.entry, sites.filter { plan.sites[$0].function.role == .alloc }, true),
            (.entry, sites.filter { plan.sites[$0].function.role != .alloc }, false),
            (.return, sites.filter { plan.sites[$0].function.role != .free }, true),
        ]
        var events: [Event] = []
        for (kind, members, allocating) in groups where !members.isEmpty {
            let id = try uprobes.eventID(path: plan.openPath, isReturn: kind == .return,
                                         offsets: members.map { plan.sites[$0].fileOffset + UInt64(plan.sites[$0].placement) })
            events.append(Event(kind: kind, sites: members, tracepoint: id, allocating: allocating))
        }
        self.events = events
    }

    /// One spec per event, in `events` order. Returns open disabled: the
    /// agent enables them once it has seen the call rate and set how many
    /// are sampled. `armed` false opens the other allocating ones disabled too.
    func specs(stackSize: UInt32, ringBytes: Int, armed: Bool) -> [EventSpec] {
        events.map { event in
            let isReturn = event.kind == .return
            let names = event.sites.map { plan.sites[$0].function.symbol }.joined(separator: ", ")
            return EventSpec.uprobe(tracepoint: event.tracepoint, layout: isReturn ? .allocationReturn(stackSize) : .allocationEntry,
                                    period: 1, ringBytes: ringBytes, disabled: isReturn || (event.allocating && !armed),
                                    name: "\(isReturn ? "returns of " : "")\(names) in \(plan.libraryPath)")
        }
    }
}
