/// A BPF ring buffer that programs write into (the allocator probes',
/// --off-cpu's): one for all CPUs, so records come out in the order the
/// programs reserved them (a block's free after its allocation, whatever
/// the CPUs). Consumed by the agent's clock, not by wake-ups. Owns the
/// map's fd and mappings.
struct BPFRecordRing: ~Copyable {
    private let map: FileDescriptor
    private let consumer: UnsafeMutableRawPointer
    /// The producer page, then the data twice over (so that a record that
    /// wraps around reads as one run of bytes).
    private let producer: UnsafeMutableRawPointer
    private let size: Int
    private let pageSize: Int

    var fd: Int32 { map.raw }

    /// A ring of `bytes` (a power of two, a multiple of the page size).
    init(bytes: Int) throws(Errno) {
        let pageSize = Syscalls.pageSize()
        let map = FileDescriptor(try Syscalls.bpfRingCreate(bytes: UInt32(bytes)))
        let consumer = try Syscalls.mmapShared(map.raw, length: pageSize, writable: true)
        do {
            producer = try Syscalls.mmapShared(map.raw, length: pageSize + 2 * bytes, offset: pageSize)
        } catch {
            Syscalls.munmap(consumer, length: pageSize)
            throw error
        }
        self.map = map
        self.consumer = consumer
        self.size = bytes
        self.pageSize = pageSize
    }

    deinit {
        Syscalls.munmap(producer, length: pageSize + 2 * size)
        Syscalls.munmap(consumer, length: pageSize)
    }

    /// Copies out every record committed since the last call, in order, and
    /// hands their space back. Stops at one still being written.
    func take() -> [[UInt8]] {
        let busy: UInt32 = 1 << 31, discarded: UInt32 = 1 << 30
        var position = Syscalls.loadAcquire(consumer)
        let end = Syscalls.loadAcquire(producer)
        let data = producer + pageSize
        var records: [[UInt8]] = []
        // The positions are the kernel's: never more than a ring apart.
        while position < end, end - position <= UInt64(size) {
            let offset = Int(position & UInt64(size - 1))
            let header = Syscalls.loadAcquire32(data + offset)
            if header & busy != 0 { break }
            let length = Int(header & ~(busy | discarded))
            guard length <= size - 8 else { break }
            if header & discarded == 0 {
                records.append(Array(UnsafeRawBufferPointer(start: data + offset + 8, count: length)))
            }
            position += UInt64((length + 8 + 7) & ~7)
        }
        Syscalls.storeRelease(consumer, position)
        return records
    }
}
