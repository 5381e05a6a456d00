extension Collection {
    /// The element at `index`, or nil outside the collection: for indices
    /// read from a file (report.json), checked once but never trusted twice.
    subscript(safe index: Index) -> Element? {
        indices.contains(index) ? self[index] : nil
    }
}
