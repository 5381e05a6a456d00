/// Uses the stack the kernel walked itself (PERF_SAMPLE_CALLCHAIN): exact for
/// kernel frames and for user code built with frame pointers.
public struct CallchainUnwinder: Unwinder {
    /// Values at or above this (PERF_CONTEXT_MAX, i.e. -4095) are context
    /// markers such as PERF_CONTEXT_KERNEL (-128) and PERF_CONTEXT_USER (-512).
    static let contextMax = UInt64(bitPattern: -4095)
    static let contextKernel = UInt64(bitPattern: -128)
    static let contextUser = UInt64(bitPattern: -512)

    public init() {}

    public func unwind(_ sample: SampleRecord, in spaces: inout AddressSpaces) -> UnwoundStack {
        unwind(sample)
    }

    func unwind(_ sample: SampleRecord) -> UnwoundStack {
        var kernel: [UInt64] = []
        var user: [UInt64] = []
        var inKernel = false
        var inUser = false
        for address in sample.callchain {
            if address >= Self.contextMax {
                inKernel = address == Self.contextKernel
                inUser = address == Self.contextUser
                continue
            }
            // The frame-pointer walk ends on a zero or garbage return address.
            if address == 0 { continue }
            if inKernel {
                kernel.append(kernel.isEmpty ? address : address - 1)
            } else if inUser {
                user.append(user.isEmpty ? address : address - 1)
            }
        }
        return UnwoundStack(kernel: kernel, user: user, outcome: .framePointer)
    }
}
