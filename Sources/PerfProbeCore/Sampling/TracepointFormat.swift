/// A tracepoint's `format` file in tracefs: where each field of its record
/// lies. The kernel writes it, but its layout changes between versions, so
/// programs reading a record take their offsets from here. Pure.
struct TracepointFormat: Sendable, Equatable {
    struct Field: Sendable, Equatable {
        var offset: Int
        var size: Int
    }

    /// By field name (`prev_state`, `next_pid`, …).
    var fields: [String: Field]

    /// Parses lines such as `field:pid_t next_pid;	offset:56;	size:4;	signed:1;`;
    /// other lines, and fields without a readable offset and size, are skipped.
    static func parse(_ text: Substring) -> TracepointFormat {
        var fields: [String: Field] = [:]
        for line in text.split(separator: "\n").prefix(256) {
            var declaration: Substring?
            var offset: Int?
            var size: Int?
            for part in line.split(separator: ";") {
                let item = part.trimmingPrefix(while: { $0 == " " || $0 == "\t" })
                guard let colon = item.firstIndex(of: ":") else { continue }
                let value = item[item.index(after: colon)...]
                switch item[..<colon] {
                case "field": declaration = value
                case "offset": offset = Int(value)
                case "size": size = Int(value)
                default: break
                }
            }
            guard let declaration, let offset, let size, (0...4096).contains(offset), (1...4096).contains(size),
                  var name = declaration.split(separator: " ").last else { continue }
            if let bracket = name.firstIndex(of: "[") { name = name[..<bracket] }
            fields[String(name)] = Field(offset: offset, size: size)
        }
        return TracepointFormat(fields: fields)
    }
}
