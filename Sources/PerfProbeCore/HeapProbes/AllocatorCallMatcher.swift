/// Turns allocator uprobe samples into heap events. Every entry is recorded
/// (registers only: the size, the block freed); returns are sampled, one in
/// `period`, with a stack copy, and weighted by that period. A sampled return takes its size
/// from the latest entry of the same function on the same thread: returns
/// come after their entry, and an allocator function does not recurse into
/// itself. Pure: tested with synthetic samples.
struct AllocatorCallMatcher {
    enum Event: Equatable {
        case allocation(HeapAllocation)
        case free(pid: ProcessID, address: UInt64, time: UInt64)
    }

    private struct PendingKey: Hashable {
        var tid: ThreadID
        var site: Int
    }

    let plan: AllocatorProbePlan
    private var pending: [PendingKey: SampleRecord] = [:]
    /// Entries per site: the number of calls while probed.
    private(set) var calls: [Int]
    /// Sampled returns of calls made by the allocator itself (reported by the outer call).
    private(set) var internalCalls = 0
    /// Sampled returns whose entry was not seen (probes armed mid-call).
    private(set) var unmatchedReturns = 0
    /// posix_memalign-style results whose address was outside the stack copy.
    private(set) var unresolvedResults = 0

    init(plan: AllocatorProbePlan) {
        self.plan = plan
        calls = Array(repeating: 0, count: plan.sites.count)
    }

    mutating func entered(site: Int, _ sample: SampleRecord) -> Event? {
        guard sample.userRegisters.count == SampleLayout.registerCount else { return nil }
        calls[site] += 1
        let function = plan.sites[site].function
        if function.role != .free { pending[PendingKey(tid: sample.tid, site: site)] = sample }
        // A realloc frees its block at entry (it may hand back the same address).
        guard function.role != .alloc, let pointer = function.pointer else { return nil }
        let address = sample.userRegisters[pointer.perfIndex]
        return address == 0 ? nil : .free(pid: sample.pid, address: address, time: sample.time)
    }

    mutating func returned(site: Int, _ sample: SampleRecord, period: UInt64) -> Event? {
        guard sample.userRegisters.count == SampleLayout.registerCount,
              let entry = pending.removeValue(forKey: PendingKey(tid: sample.tid, site: site)), entry.time <= sample.time
        else {
            unmatchedReturns += 1
            return nil
        }
        // At a uretprobe the IP is the caller's return address.
        if plan.isInsideProbedFunction(sample.ip) {
            internalCalls += 1
            return nil
        }
        let function = plan.sites[site].function
        let size = function.size.reduce(UInt64(1)) { $0 &* entry.userRegisters[$1.perfIndex] }
        var address = sample.userRegisters[AllocatorDefinition.Register.rax.perfIndex]
        if let out = function.out {
            guard address == 0 else { return nil } // an error status: nothing allocated
            guard let stored = Self.load(entry.userRegisters[out.perfIndex], from: sample) else {
                unresolvedResults += 1
                return nil
            }
            address = stored
        }
        guard address != 0, size > 0 else { return nil }
        return .allocation(HeapAllocation(pid: sample.pid, tid: sample.tid, address: address, size: size,
                                          weight: size &* max(period, 1), time: sample.time,
                                          registers: sample.userRegisters, stack: sample.userStack))
    }

    /// The 8 bytes at `address` if the sample's stack copy holds them (an
    /// out-parameter in the caller's frame).
    private static func load(_ address: UInt64, from sample: SampleRecord) -> UInt64? {
        let sp = sample.userRegisters[7]
        // The address is the target's: compared by subtraction, never summed.
        guard address >= sp, sample.userStack.count >= 8, address - sp <= UInt64(sample.userStack.count - 8) else { return nil }
        let offset = Int(address - sp)
        return sample.userStack[offset..<offset + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
