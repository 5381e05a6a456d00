/// A compile unit's functions and the functions inlined into them, as
/// disjoint address segments each naming the innermost entry that covers
/// it: the inline chain at an address is one binary search and a walk up
/// the parents. Built from DWARF the target supplies: parents that do not
/// point backwards, ranges that overlap their siblings or stick out of their
/// parent are tolerated, never trusted (a segment never overlaps another).
struct InlineTree: Sendable {
    struct Entry: Sendable {
        var ranges: [Range<UInt64>]
        /// The enclosing entry's index (must be smaller), or -1.
        var parent: Int
        /// An inlined subroutine; false for a subprogram, where chains end.
        var inlined: Bool
    }

    struct Segment: Sendable {
        var range: Range<UInt64>
        var entry: Int
    }

    private(set) var segments: [Segment] = []
    private var parents: [Int] = []
    private var inlined: [Bool] = []

    init(_ entries: [Entry]) {
        var depths: [Int] = []
        depths.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            let parent = entry.parent >= 0 && entry.parent < index ? entry.parent : -1
            parents.append(parent)
            inlined.append(entry.inlined)
            depths.append(parent >= 0 ? depths[parent] + 1 : 0)
        }
        // Outer before inner where ranges start together, longer before shorter.
        let items = entries.indices.flatMap { index in entries[index].ranges.map { (range: $0, entry: index, depth: depths[index]) } }
            .sorted { ($0.range.lowerBound, $0.depth, $1.range.upperBound) < ($1.range.lowerBound, $1.depth, $0.range.upperBound) }
        var open: [(end: UInt64, entry: Int)] = []
        var cursor: UInt64 = 0
        func close(upTo limit: UInt64) {
            while let top = open.last, top.end <= limit {
                if cursor < top.end {
                    segments.append(Segment(range: cursor..<top.end, entry: top.entry))
                    cursor = top.end
                }
                open.removeLast()
            }
        }
        for item in items {
            close(upTo: item.range.lowerBound)
            if let top = open.last, cursor < item.range.lowerBound {
                segments.append(Segment(range: cursor..<item.range.lowerBound, entry: top.entry))
            }
            cursor = max(cursor, item.range.lowerBound)
            // An inner range ends where its enclosing one does at the latest.
            let end = min(item.range.upperBound, open.last?.end ?? .max)
            if cursor < end { open.append((end, item.entry)) }
        }
        close(upTo: .max)
    }

    /// The entries covering `address`, innermost first, up to and including
    /// the first that is not inlined; empty where no entry covers it.
    func chain(at address: UInt64) -> [Int] {
        guard let segment = segments.last(atOrBelow: address, by: \.range.lowerBound), segment.range.contains(address) else { return [] }
        var chain = [segment.entry]
        var entry = segment.entry
        while inlined[entry], parents[entry] >= 0 {
            entry = parents[entry]
            chain.append(entry)
        }
        return chain
    }

    /// Where the segment holding `address` begins.
    func segmentStart(at address: UInt64) -> UInt64? {
        guard let segment = segments.last(atOrBelow: address, by: \.range.lowerBound), segment.range.contains(address) else { return nil }
        return segment.range.lowerBound
    }
}
