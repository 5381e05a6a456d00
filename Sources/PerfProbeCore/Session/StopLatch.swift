import Dispatch
import Synchronization

/// Why profiling stopped.
public enum StopReason: Sendable, Equatable {
    case targetExited
    case interrupted(signal: Int32)
    case duration
}

/// The first of several events (signal, timer, target exit) to happen wins.
final class StopLatch: Sendable {
    private let reason = Locked<StopReason?>(nil)
    private let semaphore = DispatchSemaphore(value: 0)

    func signal(_ stop: StopReason) {
        let first = reason.withLock { current -> Bool in
            guard current == nil else { return false }
            current = stop
            return true
        }
        if first { semaphore.signal() }
    }

    /// The stop, if one comes within `seconds`; nil otherwise (and nothing is signalled).
    func poll(seconds: Double) -> StopReason? {
        guard semaphore.wait(timeout: .now() + seconds) == .success else { return nil }
        semaphore.signal() // for whoever waits next
        return reason.withLock { $0 }
    }

    /// Waits for the first stop; `.duration` once `seconds` pass.
    func wait(seconds: Double?) -> StopReason {
        if let seconds {
            if semaphore.wait(timeout: .now() + seconds) == .timedOut { signal(.duration) }
        } else {
            semaphore.wait()
        }
        return reason.withLock { $0 } ?? .duration
    }
}
