/// A sample's stack as instruction addresses, leaf first. The first address
/// of each part is where the thread was; the rest are return addresses.
public struct UnwoundStack: Hashable, Sendable {
    public var kernel: [UInt64]
    public var user: [UInt64]

    public init(kernel: [UInt64], user: [UInt64]) {
        self.kernel = kernel
        self.user = user
    }
}

/// Turns a sample into its stack. Implementations: the kernel's frame-pointer
/// callchain; DWARF unwinding of a copied user stack.
public protocol Unwinder {
    mutating func unwind(_ sample: SampleRecord) -> UnwoundStack
}
