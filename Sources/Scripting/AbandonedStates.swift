import Synchronization

/// The plugin threads a host left behind at a deadline that are still running, by plugin file.
///
/// Every path through a plugin call checks its deadline, so an abandoned thread normally ends
/// within microseconds. One that does not is stuck where nothing can interrupt it, and keeps its
/// Lua state (up to the memory cap) and possibly a core until it returns: so they are counted,
/// shown in the statuses and metrics, and capped. While ``maximum`` are running, no plugin gets
/// a new thread (calls after a timeout and loads fail at once instead).
final class AbandonedStates: Sendable {
    /// Abandoned threads tolerated host-wide before no new plugin thread is started.
    static let defaultMaximum = 8

    let maximum: Int
    private let counts = Mutex<[String: Int]>([:])

    init(maximum: Int = defaultMaximum) {
        self.maximum = maximum
    }

    func add(file: String) {
        counts.withLock { $0[file, default: 0] += 1 }
    }

    func remove(file: String) {
        counts.withLock { counts in
            let left = (counts[file] ?? 1) - 1
            counts[file] = left > 0 ? left : nil
        }
    }

    /// Still running, for `file`.
    func count(of file: String) -> Int {
        counts.withLock { $0[file] ?? 0 }
    }

    /// Still running, host-wide.
    var total: Int {
        counts.withLock { $0.values.reduce(0, +) }
    }

    /// Whether starting one more plugin thread would risk going past the cap.
    var isFull: Bool { total >= maximum }

    /// The error for a load or call refused because the cap is reached.
    func refusal(file: String) -> PluginError {
        PluginError(
            .unavailable, file: file,
            message: "refused: \(total) plugin threads abandoned at their deadline are still running (at most \(maximum)); "
                + "no plugin thread starts until some end"
        )
    }
}
