import Glibc

/// A value behind a pthread mutex, reached only inside `withLock`.
/// Synchronization's `Mutex` would do, but ThreadSanitizer cannot see its
/// lock (its futex and atomics live in the uninstrumented runtime) and then
/// reports every access it guards as a race, so `make sanitize` could not
/// tell a real race from it; TSan intercepts pthread mutexes.
/// `@unchecked Sendable`: every access to `value` holds the mutex.
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: consuming Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<Result: ~Copyable, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
