import CPerfProbe
import Foundation
import Testing
@testable import PerfProbeCore

/// Allocator definitions, probe placement and the pairing of uprobe samples.
@Suite struct HeapProbeTests {
    static let allocators = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("probes/allocators")

    @Test func bundledDefinitionsParse() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.allocators.path).filter { $0.hasSuffix(".alloc") }
        #expect(Set(files) == ["glibc.alloc", "jemalloc.alloc", "tcmalloc.alloc", "mimalloc.alloc"])
        for file in files {
            let definition = try AllocatorDefinition.parse(String(contentsOf: Self.allocators.appendingPathComponent(file), encoding: .utf8))
            #expect(definition.functions.contains { $0.symbol == "free" && $0.pointer == .rdi }, "\(file)")
        }
        let glibc = try AllocatorDefinition.parse(String(contentsOf: Self.allocators.appendingPathComponent("glibc.alloc"), encoding: .utf8))
        #expect(glibc.name == "glibc" && glibc.matches(path: "/usr/lib/x86_64-linux-gnu/libc.so.6"))
        #expect(!glibc.matches(path: "/usr/lib/libcrypt.so.1"))
        let calloc = try #require(glibc.functions.first { $0.symbol == "calloc" })
        #expect(calloc.role == .alloc && calloc.size == [.rdi, .rsi])
        let memalign = try #require(glibc.functions.first { $0.symbol == "posix_memalign" })
        #expect(memalign.out == .rdi && memalign.size == [.rdx])
    }

    @Test func badDefinitionsSayWhichLine() {
        let cases: [(String, Int, String)] = [
            ("allocator x\nlibrary libx.so\nalloc malloc size=rax\nfree free ptr=rdi", 3, "not an argument register"),
            ("allocator x\nlibrary libx.so\nfree free", 3, "needs ptr="),
            ("allocator x\nlibrary libx.so\nmalloc malloc size=rdi", 3, "unknown directive"),
            ("allocator x\nlibrary libx.so\nalloc malloc sz=rdi", 3, "unknown argument"),
            ("library libx.so\nalloc malloc size=rdi", 0, "no 'allocator' line"),
        ]
        for (text, line, message) in cases {
            #expect(throws: AllocatorDefinition.ParseError.self) { try AllocatorDefinition.parse(text) }
            do {
                _ = try AllocatorDefinition.parse(text)
            } catch {
                #expect(error.line == line && error.message.contains(message), "\(error)")
            }
        }
    }

    /// glibc 2.36's free starts `test %rdi,%rdi` (single-stepped), then `je`
    /// (emulated): the probe goes on the je, 3 bytes in, rdi untouched.
    @Test func freeIsProbedPastItsSingleSteppedTest() {
        let free: [UInt8] = [0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55, 0x48, 0x8d, 0x77, 0xf0, 0x53]
        #expect(ProbePlacement.offset(in: free[...], preserving: [7]) == 3)
        // malloc starts with push %r12, which the kernel emulates.
        let malloc: [UInt8] = [0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x10]
        #expect(ProbePlacement.offset(in: malloc[...], preserving: [7]) == 0)
    }

    @Test func placementStopsWhereTheArgumentMayChange() {
        // mov %rdi,%rbx; sub $0x10,%rsp; push %rbp → the push (rdi is only read).
        let copies: [UInt8] = [0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x10, 0x55]
        #expect(ProbePlacement.offset(in: copies[...], preserving: [7]) == 7)
        // mov 0x8(%rsi),%rdi writes rdi: stay at the entry.
        let overwrites: [UInt8] = [0x48, 0x8b, 0x7e, 0x08, 0x55]
        #expect(ProbePlacement.offset(in: overwrites[...], preserving: [7]) == 0)
        // ret ends the straight line; an unknown instruction (VEX) stops the scan.
        #expect(ProbePlacement.offset(in: [0xc3, 0x55][...], preserving: [7]) == 0)
        #expect(ProbePlacement.offset(in: [0xc5, 0xf8, 0x77, 0x55][...], preserving: [7]) == 0)
        // A jcc with an operand-size prefix is single-stepped, not emulated.
        #expect(X86Instruction.decode([0x66, 0x74, 0x02][...])?.emulated == false)
        #expect(X86Instruction.decode([0x41, 0x55][...]) == X86Instruction(length: 2, emulated: true, changesControlFlow: false, writes: [4]))
        // movabs $imm64,%rax is 10 bytes.
        #expect(X86Instruction.decode([0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8][...])?.length == 10)
        // lea 0x0(,%rax,8),%rdx: SIB with no base takes a 32-bit displacement.
        #expect(X86Instruction.decode([0x48, 0x8d, 0x14, 0xc5, 0, 0, 0, 0][...])?.length == 8)
        // shr $0x1a,%rax (jemalloc's free shifts its pointer's copy before its first jcc).
        #expect(X86Instruction.decode([0x48, 0xc1, 0xe8, 0x1a][...]) == X86Instruction(length: 4, emulated: false, changesControlFlow: false, writes: [0]))
        #expect(X86Instruction.decode([0x0f][...]) == nil)
    }

    // MARK: pairing entries and returns

    static let plan: AllocatorProbePlan = {
        let function = { (symbol: String, role: AllocatorDefinition.Role, size: [AllocatorDefinition.Register], pointer: AllocatorDefinition.Register?, out: AllocatorDefinition.Register?) in
            AllocatorDefinition.Function(symbol: symbol, role: role, size: size, pointer: pointer, out: out)
        }
        let functions = [function("malloc", .alloc, [.rdi], nil, nil), function("realloc", .realloc, [.rsi], .rdi, nil),
                         function("free", .free, [], .rdi, nil), function("posix_memalign", .alloc, [.rdx], nil, .rdi)]
        let definition = AllocatorDefinition(name: "test", libraries: ["libc.so.6"], functions: functions)
        let sites = functions.enumerated().map { index, function in
            AllocatorProbePlan.Site(function: function, address: 0x1000 * UInt64(index + 1), size: 0x100,
                                    fileOffset: 0x1000 * UInt64(index + 1), placement: 0)
        }
        // The library's text is mapped at 0x7f0000000000 from file offset 0.
        return AllocatorProbePlan(definition: definition, libraryPath: "/lib/libc.so.6", openPath: "/lib/libc.so.6",
                                  sites: sites, missing: [],
                                  mappings: [MemoryMapping(start: 0x7f00_0000_0000, end: 0x7f00_0001_0000, fileOffset: 0,
                                                           executable: true, inode: 1, path: "/lib/libc.so.6")])
    }()

    static func sample(tid: Int32 = 7, time: UInt64, ip: UInt64 = 0x40_1234, registers: [AllocatorDefinition.Register: UInt64],
                       sp: UInt64 = 0x7ffd_0000, stack: [UInt8] = []) -> SampleRecord {
        var sample = SampleRecord(ip: ip, pid: ProcessID(7), tid: ThreadID(tid), time: time, cpu: 0, period: 0, callchain: [], misc: 0)
        sample.userRegisters = Array(repeating: 0, count: SampleLayout.registerCount)
        for (register, value) in registers { sample.userRegisters[register.perfIndex] = value }
        sample.userRegisters[7] = sp
        sample.userStack = stack
        return sample
    }

    /// The entry's stack copy: its top word, the return address.
    static func returnAddress(_ address: UInt64) -> [UInt8] {
        withUnsafeBytes(of: address.littleEndian) { Array($0) }
    }

    /// A sampled return stands for its call site's calls since that site's
    /// previous sample: its weight is that count times its size.
    @Test func sampledReturnStandsForItsCallSitesCallsSinceTheLastSample() throws {
        var matcher = AllocatorCallMatcher(plan: Self.plan)
        let site: UInt64 = 0x40_1234, other: UInt64 = 0x40_2000
        for time in UInt64(1)...15 {
            _ = matcher.entered(site: 0, Self.sample(time: time, registers: [.rdi: 64], sp: 0x7ffd_0000, stack: Self.returnAddress(site)))
        }
        // Another call site's calls, and another thread's, are not this site's.
        _ = matcher.entered(site: 0, Self.sample(tid: 8, time: 16, registers: [.rdi: 5000], stack: Self.returnAddress(other)))
        #expect(matcher.entered(site: 0, Self.sample(time: 17, registers: [.rdi: 100], stack: Self.returnAddress(site))) == nil)
        guard case .allocation(let allocation) = matcher.returned(Self.sample(time: 18, ip: site, registers: [.rax: 0xa000], sp: 0x7ffd_0008)) else {
            Issue.record("no allocation")
            return
        }
        #expect(allocation.address == 0xa000 && allocation.size == 100 && allocation.weight == 1600 && allocation.time == 18)
        #expect(matcher.countedCalls == 17 && matcher.representedCalls == 16 && matcher.countedBytes == 15 * 64 + 5000 + 100)
        // A return without its entry (armed mid-call) is counted, not guessed.
        #expect(matcher.returned(Self.sample(time: 19, ip: site, registers: [.rax: 0xb000], sp: 0x7ffd_0008)) == nil)
        #expect(matcher.unmatchedReturns == 1 && matcher.calls[0] == 17)
        // A call site's calls on every thread are its calls: tid 8's and this one.
        _ = matcher.entered(site: 0, Self.sample(time: 20, registers: [.rdi: 32], stack: Self.returnAddress(other)))
        guard case .allocation(let other) = matcher.returned(Self.sample(time: 21, ip: other, registers: [.rax: 0xc000], sp: 0x7ffd_0008)) else {
            Issue.record("no allocation")
            return
        }
        #expect(other.weight == 2 * 32 && matcher.representedCalls == matcher.countedCalls)
    }

    /// The target chooses its call sites: past the cap they are counted as
    /// uncounted, and samples from such sites add nothing to the table.
    @Test func callSitesAreCapped() {
        var matcher = AllocatorCallMatcher(plan: Self.plan)
        let cap = UInt64(AllocatorCallMatcher.maximumCallSites)
        for site in 0...cap {
            _ = matcher.entered(site: 0, Self.sample(time: 1, registers: [.rdi: 16], stack: Self.returnAddress(0x50_0000 + site)))
        }
        #expect(matcher.uncountedCalls == 1 && matcher.callSitesTracked == AllocatorCallMatcher.maximumCallSites)
        for site in 0..<UInt64(100) {
            _ = matcher.entered(site: 0, Self.sample(time: 2, registers: [.rdi: 16], stack: Self.returnAddress(0x90_0000 + site)))
            _ = matcher.returned(Self.sample(time: 3, ip: 0x90_0000 + site, registers: [.rax: 0x1000], sp: 0x7ffd_0008))
        }
        #expect(matcher.uncountedCalls == 101 && matcher.callSitesTracked == AllocatorCallMatcher.maximumCallSites)
    }

    /// A program whose allocations repeat every 51 calls (50 of 64–832 B
    /// freed, then one of 2 KiB kept), sampled one return in about ten. The
    /// per-stack estimates (bytes and calls) must hold whether the two come
    /// from different call sites or from one (a wrapper), and they do when
    /// each return is chosen independently; choosing one in exactly 51 sees
    /// one position of the cycle only, and says so.
    @Test(arguments: [false, true])
    func periodicPatternIsEstimatedWithoutBias(sharedCallSite: Bool) {
        // One cycle's entries and returns, made once: the matcher is what is timed.
        let cycle = (0..<51).map { position in
            let size: UInt64 = position == 50 ? 2048 : 64 + 16 * UInt64(position % 49)
            let site: UInt64 = position == 50 && !sharedCallSite ? 0x40_2000 : 0x40_1000
            return (entry: Self.sample(time: 1, registers: [.rdi: size], stack: Self.returnAddress(site)),
                    return: Self.sample(time: 2, ip: site, registers: [.rax: 0x1000], sp: 0x7ffd_0008))
        }
        func estimate(_ chosen: (Int) -> Bool) -> (leakBytes: Double, churnCalls: Double, matcher: AllocatorCallMatcher) {
            var matcher = AllocatorCallMatcher(plan: Self.plan)
            var leakBytes = 0.0, churnCalls = 0.0, call = 0
            for _ in 0..<6_000 {
                for (entry, sampledReturn) in cycle {
                    _ = matcher.entered(site: 0, entry)
                    defer { call += 1 }
                    guard chosen(call), case .allocation(let allocation) = matcher.returned(sampledReturn) else { continue }
                    if allocation.size == 2048 { leakBytes += Double(allocation.weight) } else { churnCalls += Double(allocation.weight / allocation.size) }
                }
            }
            return (leakBytes, churnCalls, matcher)
        }
        var random = SplitMix(seed: 42)
        // One in ten on average: ~600 samples of the leak's position, its
        // estimate's spread ±6% with a shared call site (weights vary), nil
        // without (each of its site's calls is counted).
        let (leakBytes, churnCalls, matcher) = estimate { _ in random.next() % 10 == 0 }
        #expect(abs(leakBytes / (6_000 * 2048) - 1) <= 0.2, "leak \(leakBytes / (6_000 * 2048))x")
        #expect(abs(churnCalls / (6_000 * 50) - 1) <= 0.05, "churn \(churnCalls / (6_000 * 50))x")
        // Every counted call is represented but each site's calls after its last sample.
        #expect(matcher.countedCalls == 6_000 * 51 && matcher.countedCalls - matcher.representedCalls < 51 * 10)
        let periodic = estimate { $0 % 51 == 50 }
        #expect(periodic.churnCalls == 0 || periodic.leakBytes == 0)
    }

    /// A return pairs with its own entry by the stack pointer, whatever came
    /// between: a call at the same depth whose return was not sampled, a call
    /// made inside it. An entry's function is told by its address.
    @Test func returnsPairWithTheirEntryByStackPointer() throws {
        var matcher = AllocatorCallMatcher(plan: Self.plan)
        _ = matcher.entered(site: 0, Self.sample(time: 1, registers: [.rdi: 10]))
        _ = matcher.entered(site: 1, Self.sample(time: 2, registers: [.rdi: 0, .rsi: 64]))
        _ = matcher.entered(site: 0, Self.sample(time: 3, registers: [.rdi: 64], sp: 0x7ffc_ff00))
        guard case .allocation(let outer) = matcher.returned(Self.sample(time: 4, registers: [.rax: 0xf000], sp: 0x7ffd_0008)) else {
            Issue.record("realloc's return is not paired with its entry")
            return
        }
        #expect(outer.size == 64 && outer.address == 0xf000)
        #expect(Self.plan.site(probedAt: 0x7f00_0000_2000, among: [0, 1]) == 1)
        #expect(Self.plan.site(probedAt: 0x7f00_0000_2001, among: [0, 1]) == nil)
        #expect(Self.plan.site(probedAt: 0x7f00_0000_3000, among: [0, 1]) == nil)
    }

    @Test func reallocFreesItsBlockAndFreeOfNullIsNothing() {
        var matcher = AllocatorCallMatcher(plan: Self.plan)
        #expect(matcher.entered(site: 1, Self.sample(time: 20, registers: [.rdi: 0xa000, .rsi: 64]))
                == .free(pid: ProcessID(7), address: 0xa000, time: 20))
        guard case .allocation(let moved) = matcher.returned(Self.sample(time: 21, registers: [.rax: 0xc000], sp: 0x7ffd_0008)) else {
            Issue.record("no allocation")
            return
        }
        #expect(moved.address == 0xc000 && moved.size == 64)
        #expect(matcher.entered(site: 2, Self.sample(time: 22, registers: [.rdi: 0])) == nil)
        #expect(matcher.entered(site: 2, Self.sample(time: 23, registers: [.rdi: 0xc000])) == .free(pid: ProcessID(7), address: 0xc000, time: 23))
    }

    /// glibc's realloc(NULL, n) calls malloc: the inner return, whose return
    /// address lies inside a probed function, is left to the outer call.
    @Test func allocatorCallingItselfIsReportedOnce() {
        var matcher = AllocatorCallMatcher(plan: Self.plan)
        _ = matcher.entered(site: 1, Self.sample(time: 30, registers: [.rdi: 0, .rsi: 64]))
        _ = matcher.entered(site: 0, Self.sample(time: 31, registers: [.rdi: 64], sp: 0x7ffc_ff00))
        // Returning into realloc (file offset 0x2000 + 0x40).
        #expect(matcher.returned(Self.sample(time: 32, ip: 0x7f00_0000_2040, registers: [.rax: 0xd000], sp: 0x7ffc_ff08)) == nil)
        #expect(matcher.internalCalls == 1)
        if case .allocation(let outer) = matcher.returned(Self.sample(time: 33, registers: [.rax: 0xd000], sp: 0x7ffd_0008)) {
            #expect(outer.address == 0xd000)
        } else {
            Issue.record("the outer realloc is not reported")
        }
    }

    /// posix_memalign stores the block through its first argument, a local of
    /// the caller: read from the return's stack copy.
    @Test func outParameterIsReadFromTheStackCopy() {
        var matcher = AllocatorCallMatcher(plan: Self.plan)
        let sp: UInt64 = 0x7ffd_1000
        _ = matcher.entered(site: 3, Self.sample(time: 40, registers: [.rdi: sp + 16, .rdx: 256], sp: sp))
        // The return's copy starts at its stack pointer, sp + 8.
        var stack = [UInt8](repeating: 0, count: 64)
        withUnsafeBytes(of: UInt64(0xe000).littleEndian) { stack.replaceSubrange(8..<16, with: $0) }
        guard case .allocation(let block) = matcher.returned(Self.sample(time: 41, registers: [.rax: 0], sp: sp + 8, stack: stack)) else {
            Issue.record("no allocation")
            return
        }
        #expect(block.address == 0xe000 && block.size == 256)
        // An error status (ENOMEM) allocated nothing; an address outside the copy is counted.
        _ = matcher.entered(site: 3, Self.sample(time: 42, registers: [.rdi: sp + 16, .rdx: 256], sp: sp))
        #expect(matcher.returned(Self.sample(time: 43, registers: [.rax: 12], sp: sp + 8, stack: stack)) == nil)
        _ = matcher.entered(site: 3, Self.sample(time: 44, registers: [.rdi: 0x1000, .rdx: 256], sp: sp))
        #expect(matcher.returned(Self.sample(time: 45, registers: [.rax: 0], sp: sp + 8, stack: stack)) == nil)
        #expect(matcher.unresolvedResults == 1)
    }

    /// Definitions a dead agent left in uprobe_events are found by their
    /// group; a live agent's, perf's and malformed lines are left alone.
    @Test func staleUprobeDefinitions() {
        let text = """
            p:perfprobe_4242/e0 /usr/lib/x86_64-linux-gnu/libc.so.6:0x00000000000a0f00
            r:perfprobe_4242/e1 /usr/lib/x86_64-linux-gnu/libc.so.6:0x00000000000a0f00
            p:perfprobe_77/e0 /usr/lib/x86_64-linux-gnu/libc.so.6:0x00000000000a1600
            p:probe_libc/malloc /usr/lib/x86_64-linux-gnu/libc.so.6:0x00000000000a0f00
            p:perfprobe_x/e0 /lib:0x1
            garbage
            """
        let stale = TracefsUprobes.staleDefinitions(text) { $0 == 77 }
        #expect(stale == ["perfprobe_4242/e0", "perfprobe_4242/e1"])
    }

    /// A path from the target's maps goes into a tracefs definition line
    /// only if it cannot break the line (else through a link).
    @Test func plainPathsOnly() {
        #expect(TracefsUprobes.isPlain("/proc/12/root/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"))
        #expect(TracefsUprobes.isPlain("/opt/a+b/lib@1.so"))
        #expect(!TracefsUprobes.isPlain("/tmp/lib with space.so"))
        #expect(!TracefsUprobes.isPlain("/tmp/lib.so\np:evil/e0 /bin/sh:0x0"))
        #expect(!TracefsUprobes.isPlain("/tmp/libé.so"))
        #expect(!TracefsUprobes.isPlain(""))
    }

    // MARK: the probes' BPF records

    /// A record as the programs lay it out (CPerfProbe.h): tag, stack bytes,
    /// tid, pid, time, then the words.
    static func probeRecord(tag: UInt32, stackBytes: UInt32 = 0, tid: Int32 = 8, pid: Int32 = 7, time: UInt64 = 99,
                            words: [UInt64], stack: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(tag); put(stackBytes); put(tid); put(pid); put(time)
        words.forEach(put)
        return bytes + stack
    }

    @Test func probeRecordsDecodeAsTheSamplesTheyStandFor() throws {
        // An entry: DI SI DX CX R8 R9 IP SP, then the return address.
        let entry = try #require(ProbeRecord.parse(Self.probeRecord(tag: 1, words: [48, 2, 3, 4, 5, 6, 0x7f00_0000_1000, 0x7ffd_0000, 0x40_1234])))
        #expect(entry.tag == 1 && entry.sample.pid == ProcessID(7) && entry.sample.tid == ThreadID(8) && entry.sample.time == 99)
        #expect(entry.sample.userRegisters[5] == 48 && entry.sample.userRegisters[4] == 2 && entry.sample.userRegisters[17] == 6)
        #expect(entry.sample.ip == 0x7f00_0000_1000 && entry.sample.userRegisters[7] == 0x7ffd_0000)
        #expect(entry.sample.userStack == Self.returnAddress(0x40_1234))
        // Through the matcher, as an allocator entry sample would go.
        var matcher = AllocatorCallMatcher(plan: Self.plan)
        _ = matcher.entered(site: 0, entry.sample)
        #expect(matcher.countedCalls == 1 && matcher.countedBytes == 48)

        // A return: 24 registers by PERF_REG_X86_*, then the stack bytes copied.
        var registers = [UInt64](repeating: 0, count: 24)
        registers[0] = 0xf000; registers[7] = 0x7ffd_0008; registers[8] = 0x40_1234
        let stack = [UInt8](repeating: 0xab, count: 64)
        let returned = try #require(ProbeRecord.parse(Self.probeRecord(tag: 2, stackBytes: 40, words: registers, stack: stack)))
        #expect(returned.sample.ip == 0x40_1234 && returned.sample.userRegisters == registers)
        #expect(returned.sample.userStack.count == 40)
        // A count past the record is held to the record.
        let overstated = try #require(ProbeRecord.parse(Self.probeRecord(tag: 2, stackBytes: 1 << 20, words: registers, stack: stack)))
        #expect(overstated.sample.userStack.count == 64)
        // Short records, and records without a process (the agent's pid
        // namespace did not match), are nothing.
        #expect(ProbeRecord.parse(Array(Self.probeRecord(tag: 1, words: [1, 2, 3]))) == nil)
        #expect(ProbeRecord.parse(Self.probeRecord(tag: 1, pid: 0, words: Array(repeating: 1, count: 9))) == nil)
        #expect(ProbeRecord.parse([]) == nil)
    }

    /// The hand-assembled programs against the kernel: glibc's malloc and
    /// free of this very process probed. Every return chosen: each call the
    /// test makes is recorded once, with its size, its block, this thread,
    /// this process, and a return whose stack pointer is the entry's + 8 and
    /// whose instruction pointer is the entry's return address; each block's
    /// free is recorded. None chosen: the mallocs are still recorded, the
    /// frees only counted.
    @Test func programsRecordEveryCallOfThisProcess() throws {
        let libc = try #require(MemoryMapping.read(of: nil).first { $0.executable && $0.path.hasSuffix("/libc.so.6") }?.path)
        let glibc = try AllocatorDefinition.parse(String(contentsOf: Self.allocators.appendingPathComponent("glibc.alloc"), encoding: .utf8))
        let plan = try AllocatorProbePlan.make(definition: glibc, libraryPath: libc, openPath: libc,
                                               mappings: MemoryMapping.read(of: nil).filter { $0.path == libc && $0.executable })
        let uprobes = try TracefsUprobes.open()
        defer { uprobes.removeAll() }
        let events = try AllocatorProbeEvents(plan: plan, uprobes: uprobes)
        let ring = try BPFRecordRing(bytes: 32 << 20)
        var programs = try AllocatorProbePrograms(events.probes, ring: ring, stackSize: 8192)
        try programs.attach(events.events.indices, pid: ProcessID(getpid()))
        // Every return chosen only around this thread's calls: the other
        // tests' threads allocate too, and each attach and detach takes a
        // grace period.
        let size = 4_321, calls = 200
        try programs.setProbability(1)
        #expect(CPerfProbe_allocate_and_free(libc, UInt64(calls), UInt64(size)) == 0)
        try programs.setProbability(0)
        let chosen = ring.take()
        // The agent's part: the chosen returns without a block in RAX (the
        // other tests' threads' posix_memalign) handled.
        programs.handledReturnsWithoutBlock(programs.counts.returnsWithoutBlock)
        // None chosen: the frees of blocks never sampled are counted, not recorded.
        let freesBefore = programs.counts.freeCalls
        #expect(CPerfProbe_allocate_and_free(libc, UInt64(calls), UInt64(size)) == 0)
        let freesCounted = programs.counts.freeCalls - freesBefore
        programs.detach(events.events.indices)
        let tid = Syscalls.currentThreadID()
        let records = chosen.compactMap(ProbeRecord.parse).filter { $0.sample.tid == tid }
        #expect(records.allSatisfy { $0.sample.pid == ProcessID(getpid()) })
        let kinds = records.map { events.events[Int($0.tag)] }
        let mallocs = zip(records, kinds).filter { $1.kind == .entry && $1.allocating && $0.sample.userRegisters[5] == UInt64(size) }
        let returns = zip(records, kinds).filter { $1.kind == .return }.map(\.0)
        #expect(mallocs.count == calls, "\(records.count) records")
        var blocks: Set<UInt64> = []
        for (entry, _) in mallocs {
            // Its return: the next return after it whose stack pointer is its own + 8.
            guard let returned = returns.first(where: { $0.sample.time >= entry.sample.time && $0.sample.userRegisters[7] == entry.sample.userRegisters[7] + 8 }) else {
                Issue.record("no return for the entry at \(entry.sample.time)")
                break
            }
            // At the return the instruction pointer is the entry's return address.
            #expect(returned.sample.ip == entry.sample.userStack.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            #expect(returned.sample.userStack.count >= 8)
            blocks.insert(returned.sample.userRegisters[0])
        }
        let isFree = { (event: AllocatorProbeEvents.Event) in
            if case .freeEntry = event.role { return true }
            return false
        }
        let freed = Set(zip(records, kinds).filter { isFree($1) }.map { $0.0.sample.userRegisters[5] })
        #expect(blocks.count >= 1 && blocks.isSubset(of: freed))
        let unchosen = ring.take().compactMap(ProbeRecord.parse).filter { $0.sample.tid == tid }
        // The test's blocks (glibc hands the same ones back), sampled and
        // freed in the first round, are not sampled now: their frees are not
        // recorded. (Other blocks of this thread allocated in the first
        // round, while every return was chosen, are.)
        // A block another thread was handed while every return was chosen
        // (the other tests' threads, in parallel) is sampled as theirs, and
        // stays so if their free went by a path not probed: its address,
        // handed to this thread later, is then rightly recorded.
        let othersSampled = Set(chosen.compactMap(ProbeRecord.parse).filter { $0.sample.tid != tid && events.events[Int($0.tag)].kind == .return }
            .map { $0.sample.userRegisters[0] })
        let freedUnchosen = Set(unchosen.filter { isFree(events.events[Int($0.tag)]) }.map { $0.sample.userRegisters[5] })
        #expect(freedUnchosen.subtracting(othersSampled).isDisjoint(with: blocks), "\(freedUnchosen.intersection(blocks))")
        #expect(unchosen.filter { events.events[Int($0.tag)].allocating && $0.sample.userRegisters[5] == UInt64(size) }.count == calls)
        #expect(freesCounted >= UInt64(calls))
        // (Records lost to the ring are not checked: the other tests' threads
        // allocate into it too; this thread's calls are all there, above.)
        #expect(!programs.counts.everyFreeRecorded)
    }
}
