import Foundation

/// A sleeping namespace holding an Argo CD Application's self-heal off, with the sync policy the
/// Application had before the first such pause: written before the Application is changed, so
/// that a hub killed at any point knows what to put back.
public struct ArgoPauseRecord: Codable, Sendable, Equatable {

    public var cluster: String
    public var application: String
    public var namespace: String
    /// The SleepInfo (or `hub-<schedule>`) whose sleep holds the pause.
    public var unit: String
    /// `spec.syncPolicy` as it was (JSON; `null` when the Application had none).
    public var syncPolicy: String
    public var operationId: String?
    public var pausedAt: Date

    public init(cluster: String, application: String, namespace: String, unit: String, syncPolicy: String, operationId: String?, pausedAt: Date) {
        self.cluster = cluster
        self.application = application
        self.namespace = namespace
        self.unit = unit
        self.syncPolicy = syncPolicy
        self.operationId = operationId
        self.pausedAt = pausedAt
    }
}

extension ArgoPauseRecord: SQLRecord {
    static let table = "argoPause"
    static let primaryKey = ["cluster", "application", "namespace", "unit"]

    init(row: SQLRow) throws {
        self.init(
            cluster: try row.string("cluster"), application: try row.string("application"), namespace: try row.string("namespace"),
            unit: try row.string("unit"), syncPolicy: try row.string("syncPolicy"), operationId: try row.optionalString("operationId"),
            pausedAt: try row.date("pausedAt")
        )
    }

    var columns: [(String, SQLValue)] {
        [
            ("cluster", cluster.sqlValue), ("application", application.sqlValue), ("namespace", namespace.sqlValue), ("unit", unit.sqlValue),
            ("syncPolicy", syncPolicy.sqlValue), ("operationId", operationId.sqlValue), ("pausedAt", pausedAt.sqlValue),
        ]
    }
}

extension Store {
    /// Records a pause before the Application is touched. An Application paused already keeps
    /// the policy of its first pause (the one to restore), whatever `record` says; returns the
    /// policy in force for the Application's pauses.
    @discardableResult
    public func recordPause(_ record: ArgoPauseRecord) async throws -> String {
        try await backend.write { db in
            let first = try db.fetchOne(
                ArgoPauseRecord.self, "SELECT * FROM argoPause WHERE cluster = ? AND application = ? ORDER BY pausedAt LIMIT 1",
                [record.cluster, record.application]
            )
            var row = record
            if let first { row.syncPolicy = first.syncPolicy }
            try db.save(row)
            return row.syncPolicy
        }
    }

    /// The pauses of a cluster (of one Application when given), oldest first.
    public func pauses(cluster: String, application: String? = nil) async throws -> [ArgoPauseRecord] {
        try await backend.read { db in
            if let application {
                try db.fetchAll(
                    ArgoPauseRecord.self, "SELECT * FROM argoPause WHERE cluster = ? AND application = ? ORDER BY pausedAt, namespace, unit",
                    [cluster, application]
                )
            } else {
                try db.fetchAll(ArgoPauseRecord.self, "SELECT * FROM argoPause WHERE cluster = ? ORDER BY pausedAt, application, namespace, unit", [cluster])
            }
        }
    }

    /// Removes one namespace's hold on an Application; returns the holds left on it.
    @discardableResult
    public func releasePause(cluster: String, application: String, namespace: String, unit: String) async throws -> [ArgoPauseRecord] {
        try await backend.write { db in
            try db.execute(
                "DELETE FROM argoPause WHERE cluster = ? AND application = ? AND namespace = ? AND unit = ?", [cluster, application, namespace, unit]
            )
            return try db.fetchAll(
                ArgoPauseRecord.self, "SELECT * FROM argoPause WHERE cluster = ? AND application = ? ORDER BY pausedAt, namespace, unit",
                [cluster, application]
            )
        }
    }
}
