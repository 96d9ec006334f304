import Glibc

/// A recursive pthread mutex that knows whether the calling thread holds it.
///
/// `@unchecked Sendable`: the mutex is the synchronisation; the hold depth is thread-specific
/// data (`pthread_getspecific`), read and written only by its own thread.
final class RecursiveLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var depthKey = pthread_key_t()

    init() {
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
        pthread_key_create(&depthKey, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        pthread_key_delete(depthKey)
    }

    /// Blocks until the calling thread holds the lock (immediately if it already does).
    func lock() {
        pthread_mutex_lock(mutex)
        depth += 1
    }

    /// Releases one level of the calling thread's hold.
    func unlock() {
        depth -= 1
        pthread_mutex_unlock(mutex)
    }

    /// Whether the calling thread holds the lock.
    var isHeldByCurrentThread: Bool { depth > 0 }

    private var depth: Int {
        get { Int(bitPattern: pthread_getspecific(depthKey)) }
        set { pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: newValue)) }
    }
}
