/// The kernel's own type information (BTF, /sys/kernel/btf/vmlinux): where
/// a field lies in a kernel struct. `--off-cpu`'s program reads one of the
/// current task's fields, and its offset changes with every kernel build
/// and configuration (even its order, under struct randomisation). Pure:
/// every offset and count in the bytes is checked before it is used.
struct KernelTypes {
    struct Member: Sendable, Equatable {
        /// Bytes from the start of the outermost struct.
        var offset: Int
        var size: Int
    }

    private let bytes: [UInt8]
    /// Where each type's record starts (type id 1 first; 0 is void).
    private let types: [Int]
    private let strings: Range<Int>

    private enum Kind: UInt32 {
        case int = 1, pointer, array, structure, union, enumeration, forward, typedef, volatile, constant, restrict
        case function, prototype, variable, section, float, declarationTag, typeTag, enumeration64
    }

    /// nil: not BTF as this perfprobe reads it (the magic, version 1, a
    /// little-endian machine's), or its sections lie outside the bytes.
    init?(_ bytes: [UInt8]) {
        self.bytes = bytes
        guard bytes.count >= 24, bytes[0] == 0x9F, bytes[1] == 0xEB, bytes[2] == 1 else { return nil }
        let header = Int(Self.word(bytes, 4) ?? 0)
        guard header >= 24, let typeOffset = Self.word(bytes, 8), let typeLength = Self.word(bytes, 12),
              let stringOffset = Self.word(bytes, 16), let stringLength = Self.word(bytes, 20) else { return nil }
        // u32 sums cannot overflow Int on a 64-bit machine.
        let typeStart = header + Int(typeOffset), typeEnd = typeStart + Int(typeLength)
        let stringStart = header + Int(stringOffset), stringEnd = stringStart + Int(stringLength)
        guard typeEnd <= bytes.count, stringEnd <= bytes.count else { return nil }
        strings = stringStart..<stringEnd
        var types: [Int] = []
        var at = typeStart
        while at + 12 <= typeEnd {
            guard let info = Self.word(bytes, at + 4), let kind = Kind(rawValue: info >> 24 & 0x1F) else { break }
            types.append(at)
            let count = Int(info & 0xFFFF)
            at += 12 + Self.trailing(kind, count: count)
        }
        self.types = types
    }

    /// Bytes after a type's 12-byte record, by its kind and vlen.
    private static func trailing(_ kind: Kind, count: Int) -> Int {
        switch kind {
        case .int, .variable, .declarationTag: 4
        case .array: 12
        case .structure, .union, .section, .enumeration64: 12 * count
        case .enumeration, .prototype: 8 * count
        default: 0
        }
    }

    private static func word(_ bytes: [UInt8], _ at: Int) -> UInt32? {
        guard at >= 0, at + 4 <= bytes.count else { return nil }
        return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    private func word(_ at: Int) -> UInt32 { Self.word(bytes, at) ?? 0 }

    /// Whether the string at `offset` in the string section is `name`.
    private func named(_ offset: UInt32, _ name: [UInt8]) -> Bool {
        let start = strings.lowerBound + Int(offset)
        guard !name.isEmpty, start + name.count < strings.upperBound else { return false }
        for (index, byte) in name.enumerated() where bytes[start + index] != byte { return false }
        return bytes[start + name.count] == 0
    }

    private func kind(_ id: Int) -> Kind? {
        guard id >= 1, id <= types.count else { return nil }
        return Kind(rawValue: word(types[id - 1] + 4) >> 24 & 0x1F)
    }

    /// The type under typedefs, qualifiers and tags (a few levels at most).
    private func resolved(_ id: Int) -> Int? {
        var id = id
        for _ in 0..<16 {
            switch kind(id) {
            case .typedef?, .volatile?, .constant?, .restrict?, .typeTag?: id = Int(word(types[id - 1] + 8))
            case nil: return nil
            default: return id
            }
        }
        return nil
    }

    private func size(_ id: Int) -> Int? {
        switch kind(id) {
        case .int?, .structure?, .union?, .enumeration?, .enumeration64?, .float?: Int(word(types[id - 1] + 8))
        case .pointer?: 8
        default: nil
        }
    }

    /// The member `name` of struct or union `id` (or of an anonymous struct
    /// or union in it): its bit offset and type. Bitfields are not members
    /// a program can load.
    private func member(_ name: [UInt8], of id: Int, depth: Int = 0) -> (bits: Int, type: Int)? {
        guard depth < 8, kind(id) == .structure || kind(id) == .union else { return nil }
        let record = types[id - 1], info = word(record + 4)
        let members = (0..<Int(info & 0xFFFF)).map { record + 12 + 12 * $0 }
        let offset = { (member: Int) -> Int? in
            let raw = self.word(member + 8)
            guard info >> 31 == 0 || raw >> 24 == 0 else { return nil }
            return Int(info >> 31 == 0 ? raw : raw & 0xFF_FFFF)
        }
        for member in members where named(word(member), name) {
            guard let bits = offset(member) else { return nil }
            return (bits, Int(word(member + 4)))
        }
        for member in members where word(member) == 0 {
            guard let bits = offset(member), let inner = resolved(Int(word(member + 4))),
                  let found = self.member(name, of: inner, depth: depth + 1) else { continue }
            return (bits + found.bits, found.type)
        }
        return nil
    }

    /// `path`: a struct's name, then member names (`task_struct`, `se`,
    /// `sum_exec_runtime`). nil when a name is missing, or a member is a
    /// bitfield or not on a byte boundary.
    func member(_ path: [String]) -> Member? {
        guard let structName = path.first else { return nil }
        let wanted = Array(structName.utf8)
        guard var id = types.indices.first(where: { Kind(rawValue: word(types[$0] + 4) >> 24 & 0x1F) == .structure
            && word(types[$0] + 4) & 0xFFFF > 0 && named(word(types[$0]), wanted) }).map({ $0 + 1 }) else { return nil }
        var bits = 0
        for name in path.dropFirst() {
            guard let found = member(Array(name.utf8), of: id), let next = resolved(found.type) else { return nil }
            bits += found.bits
            id = next
        }
        guard bits % 8 == 0, let size = size(id) else { return nil }
        return Member(offset: bits / 8, size: size)
    }
}
