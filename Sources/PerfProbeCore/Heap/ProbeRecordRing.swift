import CPerfProbe

/// The BPF ring buffer the allocator probes' programs write into: one for
/// all CPUs, so records come out in the order the programs reserved them
/// (a block's free after its allocation, whatever the CPUs). Consumed by
/// the agent's clock, not by wake-ups. Owns the map's fd and mappings.
struct ProbeRecordRing: ~Copyable {
    let fd: Int32
    private let consumer: UnsafeMutableRawPointer
    /// The producer page, then the data twice over (so that a record that
    /// wraps around reads as one run of bytes).
    private let producer: UnsafeMutableRawPointer
    private let size: Int
    private let pageSize: Int

    /// A ring of `bytes` (a power of two, a multiple of the page size).
    init(bytes: Int) throws(Errno) {
        let pageSize = Syscalls.pageSize()
        let fd = try Syscalls.bpfRingCreate(bytes: UInt32(bytes))
        let consumer: UnsafeMutableRawPointer
        do {
            consumer = try Syscalls.mmapShared(fd, length: pageSize, writable: true)
        } catch {
            Syscalls.close(fd)
            throw error
        }
        do {
            producer = try Syscalls.mmapShared(fd, length: pageSize + 2 * bytes, offset: pageSize)
        } catch {
            Syscalls.munmap(consumer, length: pageSize)
            Syscalls.close(fd)
            throw error
        }
        self.fd = fd
        self.consumer = consumer
        self.size = bytes
        self.pageSize = pageSize
    }

    deinit {
        Syscalls.munmap(producer, length: pageSize + 2 * size)
        Syscalls.munmap(consumer, length: pageSize)
        Syscalls.close(fd)
    }

    /// Copies out every record committed since the last call, in order, and
    /// hands their space back. Stops at one still being written.
    func take() -> [[UInt8]] {
        let busy: UInt32 = 1 << 31, discarded: UInt32 = 1 << 30
        var position = CPerfProbe_load_acquire_u64(consumer)
        let end = CPerfProbe_load_acquire_u64(producer)
        let data = producer + pageSize
        var records: [[UInt8]] = []
        // The positions are the kernel's: never more than a ring apart.
        while position < end, end - position <= UInt64(size) {
            let offset = Int(position & UInt64(size - 1))
            let header = CPerfProbe_load_acquire_u32(data + offset)
            if header & busy != 0 { break }
            let length = Int(header & ~(busy | discarded))
            guard length <= size - 8 else { break }
            if header & discarded == 0 {
                records.append(Array(UnsafeRawBufferPointer(start: data + offset + 8, count: length)))
            }
            position += UInt64((length + 8 + 7) & ~7)
        }
        CPerfProbe_store_release_u64(consumer, position)
        return records
    }
}
