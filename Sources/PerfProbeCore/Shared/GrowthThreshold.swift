/// What counts as memory growth: for the verdicts and for arming the
/// allocator probes on growth alike.
public enum GrowthThreshold {
    /// Growth slower than this (bytes a second) is noise (page-granular
    /// readings, allocator caches), not a trend.
    public static let minimumRate = 32.0 * 1024
    /// Growth smaller than this in total is not growth.
    public static let minimumGrowth: UInt64 = 1 << 20
}
