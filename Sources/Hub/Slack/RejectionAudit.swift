import Foundation

/// Keeps a flood of unauthenticated requests from growing the audit trail without bound: the
/// first `perMinute` rejections of each minute get a row each; the others are only counted, and
/// the count goes into the next row written. (Every rejection is counted in the metrics.)
struct RejectionAudit {
    let perMinute: Int
    private var minute: Int64 = .min
    private var recordedThisMinute = 0
    private var unrecorded = 0

    init(perMinute: Int = 10) {
        self.perMinute = perMinute
    }

    /// Whether to write a row for a rejection at `now`, and how many rejections since the last row
    /// written were not.
    mutating func admit(at now: Date) -> (record: Bool, unrecordedBefore: Int) {
        let current = Int64((now.timeIntervalSince1970 / 60).rounded(.down))
        if current != minute {
            minute = current
            recordedThisMinute = 0
        }
        guard recordedThisMinute < perMinute else {
            unrecorded += 1
            return (false, 0)
        }
        recordedThisMinute += 1
        defer { unrecorded = 0 }
        return (true, unrecorded)
    }
}
