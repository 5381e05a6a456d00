extension RandomAccessCollection {
    /// In a collection sorted by `key`, the last element whose key is at or
    /// below `value`: the symbol or mapping an address falls in, if any.
    func last<Key: Comparable>(atOrBelow value: Key, by key: (Element) -> Key) -> Element? {
        let above = partitioningIndex { key($0) > value }
        return above == startIndex ? nil : self[index(before: above)]
    }

    /// In a collection partitioned by `belongsInSecondPartition` (false
    /// elements first), the index of the first true one: binary search.
    func partitioningIndex(where belongsInSecondPartition: (Element) -> Bool) -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if belongsInSecondPartition(self[middle]) {
                count = half
            } else {
                low = index(after: middle)
                count -= half + 1
            }
        }
        return low
    }
}
