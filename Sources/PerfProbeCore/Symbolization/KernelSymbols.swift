/// Kernel function symbols from /proc/kallsyms.
enum KernelSymbols {
    /// Parses kallsyms ("ffffffff81000000 T _stext\t[module]" lines), keeping
    /// text symbols. Works on bytes: the file has 100k+ lines. All-zero
    /// addresses (kptr_restrict) yield an empty table.
    static func parse(_ bytes: [UInt8]) -> SymbolTable {
        var entries: [SymbolTable.Symbol] = []
        bytes.withUnsafeBufferPointer { text in
            var i = 0
            let n = text.count
            while i < n {
                var address: UInt64 = 0
                while i < n, let digit = hexValue(text[i]) {
                    address = address << 4 | UInt64(digit)
                    i += 1
                }
                // " T name[\t[module]]\n"
                let type: UInt8 = i + 1 < n ? text[i + 1] : 0
                let nameStart = min(i + 3, n)
                var end = nameStart
                while end < n, text[end] != UInt8(ascii: "\n"), text[end] != UInt8(ascii: "\t"), text[end] != UInt8(ascii: " ") { end += 1 }
                if address != 0, end > nameStart, "tTwW".utf8.contains(type) {
                    let name = String(decoding: UnsafeBufferPointer(rebasing: text[nameStart..<end]), as: UTF8.self)
                    entries.append(SymbolTable.Symbol(address: address, size: 0, name: name))
                }
                i = end
                while i < n, text[i] != UInt8(ascii: "\n") { i += 1 }
                i += 1
            }
        }
        return SymbolTable(entries)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
