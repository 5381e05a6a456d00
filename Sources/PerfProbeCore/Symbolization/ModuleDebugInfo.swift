/// One module's DWARF, read for the addresses a profile needs: compile
/// units are found by address; a unit's functions and line table (libdw's,
/// sorted once) are read the first time an address falls in it, a
/// function's inline tree the first time one falls in the function; all
/// are searched by halves. A class: modules with the same build-id share one.
final class ModuleDebugInfo {
    /// One level of an address's inline chain.
    struct Level: Hashable, Sendable {
        /// The inlined function's name as DWARF spells it (a linkage name
        /// to demangle, or a plain name); nil for the function the chain
        /// is inlined into, which the symbol table names.
        var name: String?
        var file: String?
        var line: Int?
    }

    private let file: DwarfFile
    private let units: [DwarfFile.Unit]
    /// Every unit range with its unit, by start.
    private let unitRanges: [(range: Range<UInt64>, unit: Int)]
    /// Each unit's functions, by start, read the first time it is needed.
    private var functions: [Int: [(range: Range<UInt64>, entry: DwarfFile.CodeEntry)]] = [:]
    private var trees: [FunctionKey: (entries: [DwarfFile.CodeEntry], tree: InlineTree)] = [:]

    private struct FunctionKey: Hashable {
        var unit: Int
        var start: UInt64
    }
    private let lines: Bool

    /// nil when none of `paths` has DWARF with code. `lines: false` reads no
    /// line tables (inline chains only).
    convenience init?(paths: [String], lines: Bool) {
        for path in paths {
            guard let file = DwarfFile(path: path) else { continue }
            self.init(file, lines: lines)
            return
        }
        return nil
    }

    /// nil when `file` has no compile unit with code.
    init?(_ file: consuming DwarfFile, lines: Bool) {
        let units = file.units()
        guard !units.isEmpty else { return nil }
        self.file = file
        self.units = units
        unitRanges = units.indices.flatMap { unit in units[unit].ranges.map { (range: $0, unit: unit) } }
            .sorted { $0.range.lowerBound < $1.range.lowerBound }
        self.lines = lines
    }

    /// The inline chain at `address` (a virtual address of the module's
    /// file), innermost first: each inlined function with the line within
    /// it — the address's own for the innermost, the call site of the one
    /// inside for the others — and last the function itself with its line.
    /// Empty where no unit covers the address.
    func levels(at address: UInt64) -> [Level] {
        guard let unit = unit(containing: address) else { return [] }
        let (entries, tree) = self.tree(at: address, in: unit)
        var location = lines ? file.line(at: address, in: units[unit]).map { (file: $0.file, line: Optional($0.line)) } : nil
        var levels: [Level] = []
        for index in tree.chain(at: address) where entries[index].inlined {
            levels.append(Level(name: file.name(of: entries[index]), file: location?.file, line: location?.line))
            location = lines ? file.callSite(of: entries[index], in: units[unit]) : nil
        }
        levels.append(Level(name: nil, file: location?.file, line: location?.line))
        return levels
    }

    /// The first address of the stretch holding `address` with the same
    /// line and inline chain: where a long-lived profile merges the
    /// addresses of one line, so that it grows with the code's lines
    /// rather than its instructions.
    func lineStart(at address: UInt64) -> UInt64? {
        guard let unit = unit(containing: address) else { return nil }
        let segment = tree(at: address, in: unit).tree.segmentStart(at: address)
        let row = lines ? file.line(at: address, in: units[unit])?.start : nil
        return [segment, row].compactMap { $0 }.max()
    }

    /// Where each unit's code begins: addresses worth looking up (the fuzz target's).
    var unitStarts: [UInt64] { unitRanges.map(\.range.lowerBound) }

    private func unit(containing address: UInt64) -> Int? {
        // Units may overlap in odd files: look back a few ranges.
        let above = unitRanges.partitioningIndex { $0.range.lowerBound > address }
        for index in stride(from: above - 1, through: max(above - 8, 0), by: -1) where unitRanges[index].range.contains(address) {
            return unitRanges[index].unit
        }
        return nil
    }

    /// The inline tree of the function holding `address` (empty where none does).
    private func tree(at address: UInt64, in unit: Int) -> (entries: [DwarfFile.CodeEntry], tree: InlineTree) {
        if functions[unit] == nil {
            // What was read of the units before is not kept in memory (it is the file's, read again if needed).
            file.releasePages()
            functions[unit] = file.functions(of: units[unit]).flatMap { entry in entry.ranges.map { (range: $0, entry: entry) } }
                .sorted { $0.range.lowerBound < $1.range.lowerBound }
        }
        guard let function = functions[unit]?.last(atOrBelow: address, by: \.range.lowerBound), function.range.contains(address)
        else { return ([], InlineTree([])) }
        let key = FunctionKey(unit: unit, start: function.range.lowerBound)
        if let known = trees[key] { return known }
        var entries = file.codeEntries(of: function.entry)
        let tree = InlineTree(entries.map { InlineTree.Entry(ranges: $0.ranges, parent: $0.parent, inlined: $0.inlined) })
        // The tree holds the ranges now; the entries are kept for names and call sites.
        for index in entries.indices { entries[index].ranges = [] }
        trees[key] = (entries, tree)
        return (entries, tree)
    }
}
