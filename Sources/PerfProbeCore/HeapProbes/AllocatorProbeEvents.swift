/// The perf events of an allocator plan: per allocating function an entry
/// uprobe (every call, registers only) and a uretprobe (one call in a period
/// the agent adapts to the call rate, with a stack copy) on its first
/// instruction, where they share one breakpoint; per freeing function an
/// entry uprobe at its placement.
struct AllocatorProbeEvents: Sendable {
    enum Kind: Sendable {
        case entry
        case `return`
    }

    struct Event: Sendable {
        var site: Int
        var kind: Kind
        /// Part of allocation tracking proper (off outside the heap window);
        /// frees stay on so that blocks allocated in the window are released.
        var allocating: Bool
    }

    let plan: AllocatorProbePlan
    let events: [Event]

    init(plan: AllocatorProbePlan) {
        self.plan = plan
        var events: [Event] = []
        for (index, site) in plan.sites.enumerated() {
            switch site.function.role {
            case .free:
                events.append(Event(site: index, kind: .entry, allocating: false))
            case .alloc, .realloc:
                events.append(Event(site: index, kind: .entry, allocating: site.function.role == .alloc))
                events.append(Event(site: index, kind: .return, allocating: true))
            }
        }
        self.events = events
    }

    /// One spec per event, in `events` order. Returns open disabled: the
    /// agent enables them once it has seen the call rate and set their
    /// period. `armed` false opens the other allocating ones disabled too.
    func specs(pmu: UprobePMU, stackSize: UInt32, ringBytes: Int, armed: Bool) -> [EventSpec] {
        events.map { event in
            let site = plan.sites[event.site]
            let isReturn = event.kind == .return
            return EventSpec.uprobe(pmu: pmu, path: plan.openPath, fileOffset: site.fileOffset + UInt64(site.placement),
                                    returnProbe: isReturn, stackSize: isReturn ? stackSize : 0,
                                    period: 1, ringBytes: ringBytes, disabled: event.kind == .return || (event.allocating && !armed),
                                    name: "\(site.function.symbol)\(isReturn ? " (return)" : "") in \(plan.libraryPath)")
        }
    }
}
