/// Turns allocator uprobe samples into heap events. Every entry is recorded
/// (registers, and the return address on top of the stack); some returns
/// are sampled, with a stack copy. A sampled return takes its function and
/// size from its entry: the latest entry on the same thread whose stack
/// pointer is the return's less 8 (the return popped its address), so a
/// call made inside another (glibc's realloc(NULL, n) calls malloc) and
/// returns never sampled cannot mismatch them.
///
/// The estimator: calls are counted per call site (process and return
/// address, known at every entry and at a sampled return, where the
/// instruction pointer is the return address). A sampled return stands for
/// the calls its call site made since that site's previous sampled return:
/// its weight is that count, its bytes that count times its size. Every
/// counted call is so represented by exactly one sample (the estimated
/// calls of all stacks add up to the counted calls, less each site's calls
/// after its last sample); and when returns are chosen independently at
/// random, the sample that represents a given call is equally likely to be
/// any later call of its site, so each stack's expected share of its site's
/// weight is its share of the site's calls — whatever the program's cycle
/// of allocations. Pure: tested with synthetic samples.
struct AllocatorCallMatcher {
    enum Event: Equatable {
        case allocation(HeapAllocation)
        case free(pid: ProcessID, address: UInt64, time: UInt64)
    }

    /// Entries kept a thread: calls nested in calls, and those whose return was not sampled.
    static let pendingPerThread = 8
    /// Call sites counted at most: a program's calls to its allocator come
    /// from a few thousand places; the target chooses, so it is capped.
    static let maximumCallSites = 65_536

    /// What a return needs of its entry, kept small: every call has one.
    private struct PendingCall {
        var site: Int
        var time: UInt64
        var stackPointer: UInt64
        var size: UInt64
        /// Where an out-parameter function stores the block (0: none).
        var out: UInt64
    }

    struct CallSite: Hashable {
        var pid: ProcessID
        var returnAddress: UInt64
    }

    let plan: AllocatorProbePlan
    private var pending: [ThreadID: [PendingCall]] = [:]
    /// Calls of each call site not yet represented by a sample (negative
    /// when a sampled call's own entry was not counted at its site: no
    /// return address in the entry's record, a site past the cap).
    private var unrepresented: [CallSite: Int] = [:]
    /// Entries per site: the number of calls while probed.
    private(set) var calls: [Int]
    /// Allocating calls from outside the allocator, and their bytes: what the estimates must add up to.
    private(set) var countedCalls = 0
    private(set) var countedBytes: UInt64 = 0
    /// Calls that sampled allocations stand for.
    private(set) var representedCalls = 0
    /// Calls from call sites beyond `maximumCallSites`, which no sample represents.
    private(set) var uncountedCalls = 0
    var callSitesTracked: Int { unrepresented.count }
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
        if function.role != .free {
            let registers = sample.userRegisters
            let call = PendingCall(site: site, time: sample.time, stackPointer: registers[7],
                                   size: function.size.reduce(UInt64(1)) { $0 &* registers[$1.perfIndex] },
                                   out: function.out.map { registers[$0.perfIndex] } ?? 0)
            // At the function's first instruction the stack's top word is the return address.
            if let returnAddress = Self.load(registers[7], from: sample), !plan.isInsideProbedFunction(returnAddress) {
                count(CallSite(pid: sample.pid, returnAddress: returnAddress), size: call.size)
            }
            // In place (no copy of the list): this runs for every allocator call.
            // A call at this depth or deeper whose return was not sampled has returned.
            pending[sample.tid]?.removeAll { $0.stackPointer <= call.stackPointer }
            if pending[sample.tid]?.count == Self.pendingPerThread { pending[sample.tid]!.removeFirst() }
            pending[sample.tid, default: []].append(call)
        }
        // A realloc frees its block at entry (it may hand back the same address).
        guard function.role != .alloc, let pointer = function.pointer else { return nil }
        let address = sample.userRegisters[pointer.perfIndex]
        return address == 0 ? nil : .free(pid: sample.pid, address: address, time: sample.time)
    }

    private mutating func count(_ callSite: CallSite, size: UInt64) {
        countedCalls += 1
        countedBytes = countedBytes.addingSaturated(size)
        if let index = unrepresented.index(forKey: callSite) {
            unrepresented.values[index] += 1
        } else if unrepresented.count < Self.maximumCallSites {
            unrepresented[callSite] = 1
        } else {
            uncountedCalls += 1
        }
    }

    mutating func returned(_ sample: SampleRecord) -> Event? {
        let sp = sample.userRegisters.count == SampleLayout.registerCount ? sample.userRegisters[7] : 0
        guard sp >= 8, var entries = pending[sample.tid],
              let index = entries.lastIndex(where: { $0.stackPointer == sp - 8 && $0.time <= sample.time })
        else {
            unmatchedReturns += 1
            return nil
        }
        let entry = entries[index]
        // Entries above it were calls made inside it, returned unsampled.
        entries.removeSubrange(index...)
        pending[sample.tid] = entries.isEmpty ? nil : entries
        // At a uretprobe the IP is the caller's return address.
        if plan.isInsideProbedFunction(sample.ip) {
            internalCalls += 1
            return nil
        }
        let size = entry.size
        var address = sample.userRegisters[AllocatorDefinition.Register.rax.perfIndex]
        if plan.sites[entry.site].function.out != nil {
            guard address == 0 else { return nil } // an error status: nothing allocated
            guard let stored = Self.load(entry.out, from: sample) else {
                unresolvedResults += 1
                return nil
            }
            address = stored
        }
        guard address != 0, size > 0 else { return nil }
        // Its call site's calls since the last sample there; itself at least.
        let callSite = CallSite(pid: sample.pid, returnAddress: sample.ip)
        let waiting = unrepresented[callSite] ?? 0
        let represented = max(waiting, 1)
        // Owed by the site (its entry was not counted here) only within the cap.
        let remaining = waiting - represented
        if remaining == 0 {
            unrepresented[callSite] = nil
        } else if unrepresented[callSite] != nil || unrepresented.count < Self.maximumCallSites {
            unrepresented[callSite] = remaining
        }
        representedCalls += represented
        return .allocation(HeapAllocation(pid: sample.pid, tid: sample.tid, address: address, size: size,
                                          weight: size.multipliedSaturated(by: UInt64(represented)),
                                          time: sample.time, registers: sample.userRegisters, stack: sample.userStack))
    }

    /// The 8 bytes at `address` if the sample's stack copy holds them (an
    /// out-parameter in the caller's frame, a return address).
    private static func load(_ address: UInt64, from sample: SampleRecord) -> UInt64? {
        let sp = sample.userRegisters[7]
        // The address is the target's: compared by subtraction, never summed.
        guard address >= sp, sample.userStack.count >= 8, address - sp <= UInt64(sample.userStack.count - 8) else { return nil }
        let offset = Int(address - sp)
        return sample.userStack[offset..<offset + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
