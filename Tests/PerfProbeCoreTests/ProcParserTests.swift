import Testing
@testable import PerfProbeCore

@Suite struct ProcParserTests {
    @Test func mapsLinesWithPathsSpacesAndDeletedFiles() throws {
        let mappings = MemoryMapping.parseProcMaps(Substring(try FixtureFiles.text("maps.txt")))
        // 21 captured lines + the hand-written one; the garbage line is skipped.
        #expect(mappings.count == 22)
        let first = try #require(mappings.first)
        #expect(first.start == 0x55a4_a23f_1000 && first.end == 0x55a4_a23f_2000)
        #expect(first.executable && first.fileOffset == 0 && first.inode == 5_316_778)
        #expect(first.path == "/work/main/samples/build/cpu_split")
        #expect(mappings.contains { $0.path.isEmpty && !$0.executable })
        let libc = try #require(mappings.first { $0.path.hasSuffix("libc.so.6") && $0.executable })
        #expect(libc.fileOffset > 0)
        let odd = try #require(mappings.last)
        #expect(odd.path == "/tmp/my lib (v2).so")
        #expect(odd.fileOffset == 0x2000 && odd.executable)
        #expect(mappings.contains { $0.path == "[vdso]" && $0.executable })
    }

    @Test func statWithParenthesesInTheCommand() throws {
        let stat = try #require(ProcessStat.parse(Substring(try FixtureFiles.text("stat.txt"))))
        #expect(stat.command == "we (ird) name")
        #expect(stat.state == "R")
        #expect(stat.parent == 1)
        #expect(stat.minorFaults == 1543 && stat.majorFaults == 7)
        #expect(stat.userTicks == 311 && stat.systemTicks == 42)
        #expect(stat.threads == 3)
        #expect(stat.residentPages == 2560)
        #expect(stat.isKernelThread == false)
    }

    @Test func kernelThreadFlag() throws {
        let text = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 1 0 0 0 0 0"
        let stat = try #require(ProcessStat.parse(Substring(text)))
        #expect(stat.isKernelThread)
    }

    @Test func truncatedStatIsRejected() {
        #expect(ProcessStat.parse("42 (x) R 1 2 3") == nil)
        #expect(ProcessStat.parse("no parentheses") == nil)
    }

    @Test func statusValuesInBytes() throws {
        let status = KeyValueFile.parse(Substring(try FixtureFiles.text("status.txt")))
        let rss = try #require(status["VmRSS"])
        #expect(rss > 0 && rss % 1024 == 0)
        #expect(status["Threads"] == 1)
        #expect(status["voluntary_ctxt_switches"] != nil)
        #expect(status["Name"] == nil)
        #expect(status["Cpus_allowed_list"] == nil && status["SigQ"] == nil) // "0-1", "0/94000": not numbers
        #expect(status["Uid"] == 0)
        // Only the keys asked for, with the same values.
        let some = KeyValueFile.parse(Array(try FixtureFiles.text("status.txt").utf8), keys: ["VmRSS", "voluntary_ctxt_switches"])
        #expect(some.values == ["VmRSS": rss, "voluntary_ctxt_switches": try #require(status["voluntary_ctxt_switches"])])
        #expect(KeyValueFile.parse("a: 18446744073709551616\nb:7 kB\nc: 3kB\n").values == ["b": 7168])
        // A number that fits but whose kilobytes do not is no value (it trapped the fuzzer).
        #expect(KeyValueFile.parse("big: 18014398509481984 kB\nsmall: 18014398509481983 kB\n").values == ["small": 18_446_744_073_709_550_592])
    }

    @Test func ioCounters() throws {
        let io = KeyValueFile.parse(Substring(try FixtureFiles.text("io.txt")))
        #expect(io["read_bytes"] != nil && io["write_bytes"] != nil && io["rchar"] != nil)
    }

    @Test func onlineCPUList() {
        #expect(OnlineCPUs.parse("0-1\n") == [0, 1])
        #expect(OnlineCPUs.parse("0-3,6,8-9") == [0, 1, 2, 3, 6, 8, 9])
        #expect(OnlineCPUs.parse("0") == [0])
        // Not CPU lists: a range past NR_CPUS (which would be billions of entries), negative, reversed.
        #expect(OnlineCPUs.parse("0-2147483647,3") == [3])
        #expect(OnlineCPUs.parse("-1-4") == [] && OnlineCPUs.parse("5-2") == [])
    }

    /// cgroup2 mounts from mountinfo: this machine's hybrid layout (v1
    /// controllers, v2 at /sys/fs/cgroup/unified), a pure-v2 mount with
    /// optional fields, and a namespaced one whose mount point has a space.
    @Test func cgroup2MountsFromMountinfo() throws {
        let mounts = CgroupDirectory.mounts(mountinfo: Substring(try FixtureFiles.text("mountinfo.txt")))
        #expect(mounts == [CgroupDirectory.Mount(point: "/sys/fs/cgroup/unified", root: "/"),
                           CgroupDirectory.Mount(point: "/sys/fs/cgroup", root: "/"),
                           CgroupDirectory.Mount(point: "/mnt/my cgroups", root: "/kubepods/pod1")])
    }

    /// The unified hierarchy's line of /proc/PID/cgroup, beside v1 lines.
    @Test func unifiedCgroupOfAProcess() throws {
        #expect(CgroupDirectory.unifiedName(procCgroup: Substring(try FixtureFiles.text("cgroup.txt"))) == "/")
        #expect(CgroupDirectory.unifiedName(procCgroup: "1:cpu:/a\n0::/system.slice/nginx.service\n") == "/system.slice/nginx.service")
        #expect(CgroupDirectory.unifiedName(procCgroup: "4:memory:/x\n") == nil)
        #expect(CgroupDirectory.unifiedName(procCgroup: "0::relative\n") == nil)
    }
}
