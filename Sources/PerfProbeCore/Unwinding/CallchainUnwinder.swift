/// Uses the stack the kernel walked itself (PERF_SAMPLE_CALLCHAIN): exact for
/// kernel frames and for user code built with frame pointers.
public struct CallchainUnwinder: Unwinder {
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
            if address >= SampleRecord.contextMax {
                inKernel = address == SampleRecord.contextKernel
                inUser = address == SampleRecord.contextUser
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
