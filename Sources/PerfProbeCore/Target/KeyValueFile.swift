/// A /proc file of `key: value` lines (status, io, smaps_rollup), with the
/// values as numbers; a `kB` suffix is turned into bytes.
public struct KeyValueFile: Hashable, Sendable {
    public var values: [String: UInt64]

    public subscript(key: String) -> UInt64? { values[key] }

    public static func parse(_ text: Substring) -> KeyValueFile {
        parse(Array(text.utf8))
    }

    /// Works on the bytes, making a string only of the keys kept (`keys`, or
    /// all when nil): the sampler reads every thread's status ten times a
    /// second, and splitting them into strings was most of its own CPU time.
    public static func parse(_ bytes: [UInt8], keys: [String]? = nil) -> KeyValueFile {
        let wanted = keys?.map { Array($0.utf8) }
        var values: [String: UInt64] = [:]
        bytes.withUnsafeBufferPointer { text in
            var lineStart = 0
            while lineStart < text.count {
                let lineEnd = text[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? text.count
                defer { lineStart = lineEnd + 1 }
                guard let colon = text[lineStart..<lineEnd].firstIndex(of: UInt8(ascii: ":")) else { continue }
                let key = text[lineStart..<colon]
                if let wanted, !wanted.contains(where: { $0.elementsEqual(key) }) { continue }
                var i = colon + 1
                while i < lineEnd, text[i] == UInt8(ascii: " ") || text[i] == UInt8(ascii: "\t") { i += 1 }
                var number: UInt64 = 0
                let digits = i
                while i < lineEnd, text[i] >= UInt8(ascii: "0"), text[i] <= UInt8(ascii: "9") {
                    let (times, overflow) = number.multipliedReportingOverflow(by: 10)
                    let (sum, carry) = times.addingReportingOverflow(UInt64(text[i] - UInt8(ascii: "0")))
                    guard !overflow, !carry else { break }
                    number = sum
                    i += 1
                }
                // A number, alone or followed by blanks (and a unit).
                guard i > digits, i == lineEnd || text[i] == UInt8(ascii: " ") || text[i] == UInt8(ascii: "\t") else { continue }
                while i < lineEnd, text[i] == UInt8(ascii: " ") || text[i] == UInt8(ascii: "\t") { i += 1 }
                let kilobytes = lineEnd - i >= 2 && text[i] == UInt8(ascii: "k") && text[i + 1] == UInt8(ascii: "B")
                    && (lineEnd - i == 2 || text[i + 2] == UInt8(ascii: " "))
                let (bytes, tooLarge) = number.multipliedReportingOverflow(by: kilobytes ? 1024 : 1)
                guard !tooLarge else { continue }
                values[String(decoding: UnsafeBufferPointer(rebasing: key), as: UTF8.self)] = bytes
            }
        }
        return KeyValueFile(values: values)
    }
}
