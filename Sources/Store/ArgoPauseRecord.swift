import Foundation
import GRDB

/// A sleeping namespace holding an Argo CD Application's self-heal off, with the sync policy the
/// Application had before the first such pause: written before the Application is changed, so
/// that a hub killed at any point knows what to put back.
public struct ArgoPauseRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "argoPause"

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

    public enum Columns {
        static let cluster = Column(CodingKeys.cluster)
        static let application = Column(CodingKeys.application)
        static let namespace = Column(CodingKeys.namespace)
        static let unit = Column(CodingKeys.unit)
        static let pausedAt = Column(CodingKeys.pausedAt)
    }
}

extension Store {
    /// Records a pause before the Application is touched. An Application paused already keeps
    /// the policy of its first pause (the one to restore), whatever `record` says; returns the
    /// policy in force for the Application's pauses.
    @discardableResult
    public func recordPause(_ record: ArgoPauseRecord) async throws -> String {
        try await writer.write { db in
            let first = try ArgoPauseRecord
                .filter(ArgoPauseRecord.Columns.cluster == record.cluster && ArgoPauseRecord.Columns.application == record.application)
                .order(ArgoPauseRecord.Columns.pausedAt)
                .fetchOne(db)
            var row = record
            if let first { row.syncPolicy = first.syncPolicy }
            try row.save(db)
            return row.syncPolicy
        }
    }

    /// The pauses of a cluster (of one Application when given), oldest first.
    public func pauses(cluster: String, application: String? = nil) async throws -> [ArgoPauseRecord] {
        try await writer.read { db in
            var request = ArgoPauseRecord.filter(ArgoPauseRecord.Columns.cluster == cluster)
            if let application { request = request.filter(ArgoPauseRecord.Columns.application == application) }
            return try request.order(ArgoPauseRecord.Columns.pausedAt).fetchAll(db)
        }
    }

    /// Removes one namespace's hold on an Application; returns the holds left on it.
    @discardableResult
    public func releasePause(cluster: String, application: String, namespace: String, unit: String) async throws -> [ArgoPauseRecord] {
        try await writer.write { db in
            _ = try ArgoPauseRecord
                .filter(ArgoPauseRecord.Columns.cluster == cluster && ArgoPauseRecord.Columns.application == application)
                .filter(ArgoPauseRecord.Columns.namespace == namespace && ArgoPauseRecord.Columns.unit == unit)
                .deleteAll(db)
            return try ArgoPauseRecord
                .filter(ArgoPauseRecord.Columns.cluster == cluster && ArgoPauseRecord.Columns.application == application)
                .fetchAll(db)
        }
    }
}
