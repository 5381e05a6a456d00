import Foundation
import Testing
@testable import PerfProbeCore

/// The kernel's BTF, where --off-cpu's program finds the task's run time:
/// a made-up BTF with the shapes that matter (typedefs, qualifiers, an
/// anonymous union, a bitfield, a forward declaration, kinds with trailing
/// data), and the running kernel's against bpftool's reading of it.
struct KernelTypesTests {
    struct BTFType {
        var name = ""
        var kind: UInt32
        var kindFlag = false
        var sizeOrType: UInt32 = 0
        /// Struct and union members: name, type id, bit offset (or, with the
        /// kind flag, bitfield size << 24 | bit offset).
        var members: [(String, UInt32, UInt32)] = []
        /// Other kinds' data after the record, and their vlen.
        var trailing: [UInt32] = []
        var vlen = 0
    }

    /// BTF bytes of `types` (ids from 1), little-endian, version 1.
    static func btf(_ types: [BTFType]) -> [UInt8] {
        var strings: [UInt8] = [0]
        func name(_ text: String) -> UInt32 {
            guard !text.isEmpty else { return 0 }
            defer { strings += Array(text.utf8) + [0] }
            return UInt32(strings.count)
        }
        var words: [UInt32] = []
        for type in types {
            let vlen = type.members.isEmpty ? type.vlen : type.members.count
            words += [name(type.name), type.kind << 24 | UInt32(vlen) | (type.kindFlag ? 1 << 31 : 0), type.sizeOrType]
            words += type.members.flatMap { [name($0.0), $0.1, $0.2] } + type.trailing
        }
        let bytes = { (words: [UInt32]) in words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } } }
        let types = bytes(words)
        return [0x9F, 0xEB, 1, 0] + bytes([24, 0, UInt32(types.count), UInt32(types.count), UInt32(strings.count)]) + types + strings
    }

    /// struct task_struct { u64 state:3; union { u64 pid; u64 tgid; }; const struct sched_entity se; }
    static let sample = btf([
        BTFType(name: "unsigned long long", kind: 1, sizeOrType: 8, trailing: [64]),           // 1: INT
        BTFType(name: "u64", kind: 8, sizeOrType: 1),                                            // 2: TYPEDEF → 1
        BTFType(name: "sched_entity", kind: 4, sizeOrType: 16,
                members: [("load", 1, 0), ("sum_exec_runtime", 2, 64)]),                         // 3
        BTFType(name: "clock", kind: 6, sizeOrType: 4, trailing: [0, 0, 0, 1], vlen: 2),        // 4: ENUM, two values
        BTFType(name: "task_struct", kind: 7),                                                   // 5: FWD
        BTFType(kind: 10, sizeOrType: 3),                                                        // 6: CONST → 3
        BTFType(kind: 5, sizeOrType: 8, members: [("pid", 1, 0), ("tgid", 2, 0)]),               // 7: anonymous UNION
        BTFType(kind: 3, trailing: [1, 1, 4]),                                                   // 8: ARRAY
        BTFType(name: "task_struct", kind: 4, kindFlag: true, sizeOrType: 32,
                members: [("state", 1, 3 << 24), ("", 7, 64), ("se", 6, 128)]),                  // 9
    ])

    @Test func membersThroughTypedefsQualifiersAndAnonymousUnions() throws {
        let types = try #require(KernelTypes(Self.sample))
        #expect(types.member(["task_struct", "se", "sum_exec_runtime"]) == .init(offset: 24, size: 8))
        #expect(types.member(["task_struct", "pid"]) == .init(offset: 8, size: 8), "through the anonymous union")
        #expect(types.member(["task_struct", "state"]) == nil, "a bitfield")
        #expect(types.member(["task_struct", "se", "nothing"]) == nil)
        #expect(types.member(["sched_entity", "sum_exec_runtime"]) == .init(offset: 8, size: 8))
        #expect(types.member(["clock"]) == nil, "an enum is not a struct")
        #expect(types.member([]) == nil)
    }

    @Test func truncatedOrForeignBytesAreRefused() {
        let bytes = Self.sample
        for length in 0..<bytes.count {
            _ = KernelTypes(Array(bytes.prefix(length)))?.member(["task_struct", "se", "sum_exec_runtime"])
        }
        #expect(KernelTypes(Array(bytes.prefix(23))) == nil)
        var swapped = bytes
        swapped.swapAt(0, 1)
        #expect(KernelTypes(swapped) == nil, "a big-endian BTF")
        var far = bytes
        far[23] = 0x7F // the string section's length far beyond the bytes
        #expect(KernelTypes(far) == nil)
    }

    /// The running kernel's task_struct, as bpftool (an independent reader
    /// of BTF) lays it out.
    @Test func runningKernelAgreesWithBpftool() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/sys/kernel/btf/vmlinux")))
        let found = try #require(KernelTypes(bytes)?.member(["task_struct", "se", "sum_exec_runtime"]))
        let dump = try TemporaryDirectory.run("/usr/sbin/bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"])
        let lines = dump.split(separator: "\n")
        func bits(of member: String, in structure: String) throws -> Int {
            let start = try #require(lines.firstIndex { $0.contains("] STRUCT '\(structure)' ") })
            let line = try #require(lines[(start + 1)...].prefix { $0.hasPrefix("\t") }.first { $0.hasPrefix("\t'\(member)' ") })
            return try #require(line.split(separator: "=").last.flatMap { Int($0) })
        }
        let expected = try bits(of: "se", in: "task_struct") + bits(of: "sum_exec_runtime", in: "sched_entity")
        #expect(found == .init(offset: expected / 8, size: 8))
    }
}
