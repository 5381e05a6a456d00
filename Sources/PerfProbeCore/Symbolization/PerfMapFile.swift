/// `/tmp/perf-PID.map`, the symbol file JIT compilers (V8, the JVM with
/// perf-map-agent, .NET, LuaJIT) write: "START SIZE name" per line, in hex.
enum PerfMapFile {
    static func parse(_ text: Substring) -> SymbolTable {
        var entries: [SymbolTable.Symbol] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 2)
            guard fields.count == 3,
                  let start = UInt64(fields[0].replacingPrefix("0x"), radix: 16),
                  let size = UInt64(fields[1].replacingPrefix("0x"), radix: 16) else { continue }
            entries.append(SymbolTable.Symbol(address: start, size: size, name: String(fields[2])))
        }
        return SymbolTable(entries)
    }
}

private extension Substring {
    func replacingPrefix(_ prefix: String) -> Substring { hasPrefix(prefix) ? dropFirst(prefix.count) : self }
}
