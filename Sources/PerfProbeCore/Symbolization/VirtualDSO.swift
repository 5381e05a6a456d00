/// The vDSO is the same image in every process on a kernel: perfprobe reads
/// the target's from its own address space.
enum VirtualDSO {
    static let image: [UInt8] = {
        let maps = (try? Syscalls.readFile("/proc/self/maps")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard let vdso = MemoryMapping.parseProcMaps(Substring(maps)).first(where: { $0.path == "[vdso]" }),
              let start = UnsafeRawPointer(bitPattern: UInt(vdso.start)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: start, count: Int(vdso.end - vdso.start)))
    }()
}
