#if canImport(Glibc)
import Glibc
#endif

/// The CPU time one thread has used, readable from any thread while that thread runs: what an
/// abandoned plugin thread burns after its deadline, whatever the machine's load.
struct ThreadCPUClock: Sendable {
    #if os(Linux)
    private let id: clockid_t

    /// The clock of the calling thread.
    static var current: ThreadCPUClock? {
        var id = clockid_t()
        guard pthread_getcpuclockid(pthread_self(), &id) == 0 else { return nil }
        return ThreadCPUClock(id: id)
    }

    /// CPU time the thread used so far. Only while the thread runs.
    var used: Duration? {
        var time = timespec()
        guard clock_gettime(id, &time) == 0 else { return nil }
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }
    #else
    static var current: ThreadCPUClock? { nil }
    var used: Duration? { nil }
    #endif
}
