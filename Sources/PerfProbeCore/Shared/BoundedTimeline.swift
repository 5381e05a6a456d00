/// A timeline that never holds more than `capacity` points however long the
/// run: when full, it keeps every other point and samples half as often.
public struct BoundedTimeline<Point: Sendable>: Sendable {
    public private(set) var points: [Point] = []
    public let capacity: Int
    /// Of the points offered, one in `stride` is kept.
    public private(set) var stride = 1
    private var offered = 0

    public init(capacity: Int) {
        precondition(capacity >= 2)
        self.capacity = capacity
    }

    /// Changes points already kept (a late record correcting them).
    mutating func modify(_ body: (inout [Point]) -> Void) {
        body(&points)
    }

    public mutating func append(_ point: Point) {
        defer { offered += 1 }
        guard offered % stride == 0 else { return }
        points.append(point)
        if points.count >= capacity {
            points = points.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            stride *= 2
        }
    }
}
