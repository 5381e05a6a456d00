extension RandomAccessCollection {
    /// In a collection sorted by `key`, the last element whose key is at or
    /// below `value`: the symbol or mapping an address falls in, if any.
    func last<Key: Comparable>(atOrBelow value: Key, by key: (Element) -> Key) -> Element? {
        var low = startIndex
        var count = self.count
        // Binary search for the first element above `value`.
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if key(self[middle]) <= value {
                low = index(after: middle)
                count -= half + 1
            } else {
                count = half
            }
        }
        return low == startIndex ? nil : self[index(before: low)]
    }
}
