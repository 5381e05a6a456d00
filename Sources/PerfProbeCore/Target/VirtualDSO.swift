/// The vDSO is the same image in every process on a kernel: perfprobe reads
/// the target's from its own address space.
enum VirtualDSO {
    static let image: [UInt8] = {
        guard let vdso = MemoryMapping.read(of: nil).first(where: { $0.path == "[vdso]" }),
              let start = UnsafeRawPointer(bitPattern: UInt(vdso.start)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: start, count: Int(vdso.end - vdso.start)))
    }()
}
