import Foundation
import Synchronization

/// One request as a simulator saw it.
public struct RequestRecord: Sendable {
    public var time: Date
    public var method: String
    /// The route's pattern, e.g. `PUT /projects/:id/merge_requests/:iid/merge`; empty when no route matched.
    public var route: String
    public var path: String
    public var user: String?
    public var status: Int

    public init(time: Date, method: String, route: String = "", path: String, user: String? = nil, status: Int = 0) {
        self.time = time
        self.method = method
        self.route = route
        self.path = path
        self.user = user
        self.status = status
    }
}

/// The requests a simulator answered, for tests to count.
public final class RequestLog: Sendable {
    private let records = Mutex<[RequestRecord]>([])

    public init() {}

    public func append(_ record: RequestRecord) {
        records.withLock { $0.append(record) }
    }

    public var all: [RequestRecord] { records.withLock { $0 } }

    /// Requests counted by route (or method and path when no route matched).
    public var counts: [String: Int] {
        records.withLock { records in
            records.reduce(into: [:]) { counts, record in counts[record.route.isEmpty ? "\(record.method) \(record.path)" : record.route, default: 0] += 1 }
        }
    }

    public func reset() {
        records.withLock { $0.removeAll() }
    }
}
