/// A /proc file of `key: value` lines (status, io, smaps_rollup), with the
/// values as numbers; a `kB` suffix is turned into bytes.
public struct KeyValueFile: Hashable, Sendable {
    public var values: [String: UInt64]

    public subscript(key: String) -> UInt64? { values[key] }

    public static func parse(_ text: Substring) -> KeyValueFile {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let parts = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = parts.first, let number = UInt64(first) else { continue }
            values[key] = parts.count > 1 && parts[1] == "kB" ? number * 1024 : number
        }
        return KeyValueFile(values: values)
    }
}
