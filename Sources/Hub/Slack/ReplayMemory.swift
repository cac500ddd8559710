/// The MACs of the signed requests accepted lately, each kept only as long as a copy of its
/// request could still pass the timestamp check. Constant time per request and bounded memory:
/// entries sit in a ring of buckets by the second they expire, and each second's bucket is
/// emptied once, when the clock passes it.
struct ReplayMemory {
    /// A request's HMAC-SHA256, decoded: equal MACs are the same signed request however its
    /// header was written.
    struct MAC: Hashable {
        var words: (UInt64, UInt64, UInt64, UInt64)

        init?<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
            guard bytes.count == 32 else { return nil }
            var values = [UInt64](repeating: 0, count: 4)
            for (index, byte) in bytes.enumerated() { values[index / 8] = values[index / 8] << 8 | UInt64(byte) }
            words = (values[0], values[1], values[2], values[3])
        }

        static func == (lhs: MAC, rhs: MAC) -> Bool { lhs.words == rhs.words }

        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }
    }

    enum Outcome: Equatable {
        case fresh
        case replayed
        /// Remembering more would pass the memory bound: the request is refused, not forgotten.
        case full
    }

    /// More seconds than any entry lives (twice the timestamp window), so that buckets never alias.
    private static let ringSize = 1024
    let capacity: Int
    private var expiries: [MAC: Int64] = [:]
    private var ring = [[MAC]](repeating: [], count: ringSize)
    /// Every bucket of a second before this one has been emptied.
    private var sweptUpTo: Int64?

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { expiries.count }

    /// Remembers `mac` until the second `expiry` (inclusive), unless it is already remembered.
    mutating func insert(_ mac: MAC, expiry: Int64, now: Int64) -> Outcome {
        sweep(upTo: now)
        if let known = expiries[mac], known >= now { return .replayed }
        guard expiry >= now else { return .fresh }
        guard expiries.count < capacity else { return .full }
        expiries[mac] = expiry
        ring[Self.slot(expiry)].append(mac)
        return .fresh
    }

    /// Forgets what expired before `now`: each second's bucket once, and at most one pass over the
    /// ring however long the pause. A bucket keeps entries of a later lap (a clock set back).
    private mutating func sweep(upTo now: Int64) {
        let from = max(min(sweptUpTo ?? now, now), now - Int64(Self.ringSize))
        sweptUpTo = now
        guard from < now else { return }
        for second in from..<now {
            let slot = Self.slot(second)
            guard !ring[slot].isEmpty else { continue }
            var bucket = ring[slot]
            bucket.removeAll { mac in
                guard let expiry = expiries[mac] else { return true }
                if expiry > second { return false }
                expiries[mac] = nil
                return true
            }
            ring[slot] = bucket
        }
    }

    private static func slot(_ second: Int64) -> Int {
        Int(((second % Int64(ringSize)) + Int64(ringSize)) % Int64(ringSize))
    }
}
