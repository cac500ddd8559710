import Foundation
import GRDB

/// One change to one namespace's SleepInfo manifest in git, made for a person's request in
/// GitOps mode: the `sandman.dev/override` annotation set (or removed) through a merge request,
/// merged, synced by Argo CD, then seen by the agent. Every step is recorded, so that a hub that
/// restarts carries on where it stopped.
public struct GitOpsChangeRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "gitopsChange"

    /// How far the change has come, in order.
    public enum Stage: String, Codable, Sendable, CaseIterable, Comparable {
        case requested
        case mergeRequestOpened = "mr_opened"
        case awaitingApproval = "awaiting_approval"
        case merged
        case synced
        case done

        public static func < (lhs: Stage, rhs: Stage) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    public enum State: String, Codable, Sendable {
        case open, done, failed, rejected
        /// A newer request for the same namespace replaced it before it was merged.
        case superseded

        public var isTerminal: Bool { self != .open }
    }

    public var id: String
    public var operationId: String
    public var cluster: String
    public var namespace: String
    /// The override the change carries, or (for a removal) the one it clears.
    public var overrideId: String
    public var removal: Bool
    public var kind: OverrideRecord.Kind
    public var until: Date?
    public var reason: String?
    public var actor: String
    /// The annotation value written to the manifest; nil for a removal.
    public var annotation: String?
    /// The manifest's path in the repository.
    public var path: String
    /// The Argo CD Application synced after the merge.
    public var application: String
    public var needsApproval: Bool
    public var stage: Stage
    public var state: State
    public var branch: String?
    public var mergeRequestIID: Int?
    public var mergeRequestURL: String?
    public var mergeSHA: String?
    /// When the agent saw the change in the cluster.
    public var arrivedAt: Date?
    public var supersededBy: String?
    public var lastError: String?
    /// Attempts of the current step (for its backoff).
    public var attempts: Int
    public var nextAttemptAt: Date
    /// When the current stage began (its timeout counts from here).
    public var stageStartedAt: Date
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String = UUID().uuidString.lowercased(), operationId: String, cluster: String, namespace: String, overrideId: String,
        removal: Bool = false, kind: OverrideRecord.Kind, until: Date?, reason: String?, actor: String, annotation: String?,
        path: String, application: String, needsApproval: Bool, createdAt: Date
    ) {
        self.id = id
        self.operationId = operationId
        self.cluster = cluster
        self.namespace = namespace
        self.overrideId = overrideId
        self.removal = removal
        self.kind = kind
        self.until = until
        self.reason = reason
        self.actor = actor
        self.annotation = annotation
        self.path = path
        self.application = application
        self.needsApproval = needsApproval
        stage = .requested
        state = .open
        attempts = 0
        nextAttemptAt = createdAt
        stageStartedAt = createdAt
        self.createdAt = createdAt
        updatedAt = createdAt
    }

    /// The override this change puts in force once it reaches the cluster.
    public var override: OverrideRecord {
        OverrideRecord(
            id: overrideId, cluster: cluster, namespace: namespace, kind: kind, until: kind == .skip ? nil : until, reason: reason,
            actor: actor, createdAt: createdAt, operationId: operationId
        )
    }

    /// Whether the coordinator still has work on it: open, or superseded with a merge request to close.
    public var needsWork: Bool {
        state == .open || (state == .superseded && mergeRequestIID != nil && stage != .done)
    }

    public enum Columns {
        static let operationId = Column(CodingKeys.operationId)
        static let cluster = Column(CodingKeys.cluster)
        static let namespace = Column(CodingKeys.namespace)
        static let overrideId = Column(CodingKeys.overrideId)
        static let state = Column(CodingKeys.state)
        static let stage = Column(CodingKeys.stage)
        static let mergeRequestIID = Column(CodingKeys.mergeRequestIID)
        static let createdAt = Column(CodingKeys.createdAt)
    }
}

/// What reaching the cluster did: the request is now in force as a whole (or not yet).
public struct GitOpsArrival: Sendable {
    /// The operation, when every change of it has arrived (pending for the agent, or finished).
    public var operation: OperationRecord?
    /// Overrides the arrived ones replaced, and those a removal cleared.
    public var replaced: [OverrideRecord] = []
    public var cleared: [OverrideRecord] = []
}

extension Store {
    /// Accepts a GitOps request: the operation (waiting) and its changes are stored together.
    /// An open change of the same namespace that has not been merged yet is superseded, with its
    /// operation and that operation's other changes. Returns the operations superseded.
    public func acceptGitOps(_ operation: OperationRecord, changes: [GitOpsChangeRecord], at now: Date) async throws -> [OperationRecord] {
        try await writer.write { db in
            try operation.insert(db)
            var superseded: [String: OperationRecord] = [:]
            for change in changes {
                let older = try GitOpsChangeRecord
                    .filter(GitOpsChangeRecord.Columns.cluster == change.cluster && GitOpsChangeRecord.Columns.namespace == change.namespace)
                    .filter(GitOpsChangeRecord.Columns.state == GitOpsChangeRecord.State.open.rawValue)
                    .fetchAll(db)
                    .filter { $0.stage < .merged }
                for old in older where superseded[old.operationId] == nil {
                    guard var oldOperation = try OperationRecord.fetchOne(db, key: old.operationId) else { continue }
                    for var sibling in try GitOpsChangeRecord.filter(GitOpsChangeRecord.Columns.operationId == old.operationId).fetchAll(db)
                    where sibling.state == .open {
                        sibling.state = .superseded
                        sibling.supersededBy = change.id
                        sibling.updatedAt = now
                        sibling.nextAttemptAt = now
                        try sibling.update(db)
                    }
                    if !oldOperation.state.isFinished {
                        oldOperation.state = .superseded
                        oldOperation.finishedAt = now
                        oldOperation.summary = #"{"supersededBy":"\#(operation.id)"}"#
                        try oldOperation.update(db)
                    }
                    superseded[old.operationId] = oldOperation
                }
                try change.insert(db)
            }
            return Array(superseded.values)
        }
    }

    /// Changes the coordinator still has work on, oldest first.
    public func gitopsChangesNeedingWork() async throws -> [GitOpsChangeRecord] {
        try await writer.read { db in
            try GitOpsChangeRecord
                .filter([GitOpsChangeRecord.State.open.rawValue, GitOpsChangeRecord.State.superseded.rawValue].contains(GitOpsChangeRecord.Columns.state))
                .filter(GitOpsChangeRecord.Columns.stage != GitOpsChangeRecord.Stage.done.rawValue)
                .order(GitOpsChangeRecord.Columns.createdAt)
                .fetchAll(db)
                .filter(\.needsWork)
        }
    }

    public func gitopsChange(id: String) async throws -> GitOpsChangeRecord? {
        try await writer.read { db in try GitOpsChangeRecord.fetchOne(db, key: id) }
    }

    public func gitopsChanges(operationId: String) async throws -> [GitOpsChangeRecord] {
        try await writer.read { db in
            try GitOpsChangeRecord.filter(GitOpsChangeRecord.Columns.operationId == operationId).order(GitOpsChangeRecord.Columns.createdAt).fetchAll(db)
        }
    }

    /// The changes of a namespace, newest first.
    public func gitopsChanges(cluster: String, namespace: String) async throws -> [GitOpsChangeRecord] {
        try await writer.read { db in
            try GitOpsChangeRecord
                .filter(GitOpsChangeRecord.Columns.cluster == cluster && GitOpsChangeRecord.Columns.namespace == namespace)
                .order(GitOpsChangeRecord.Columns.createdAt.desc)
                .fetchAll(db)
        }
    }

    /// The change carrying (or clearing) an override.
    public func gitopsChange(overrideId: String) async throws -> GitOpsChangeRecord? {
        try await writer.read { db in
            try GitOpsChangeRecord.filter(GitOpsChangeRecord.Columns.overrideId == overrideId).order(GitOpsChangeRecord.Columns.createdAt.desc).fetchOne(db)
        }
    }

    /// The changes driven through a merge request.
    public func gitopsChanges(mergeRequestIID iid: Int) async throws -> [GitOpsChangeRecord] {
        try await writer.read { db in
            try GitOpsChangeRecord.filter(GitOpsChangeRecord.Columns.mergeRequestIID == iid).fetchAll(db)
        }
    }

    /// Changes a change in one write transaction; nil when it does not exist.
    @discardableResult
    public func updateGitOpsChange(id: String, _ change: @escaping @Sendable (inout GitOpsChangeRecord) -> Void) async throws -> GitOpsChangeRecord? {
        try await writer.write { db in
            guard var record = try GitOpsChangeRecord.fetchOne(db, key: id) else { return nil }
            change(&record)
            try record.update(db)
            return record
        }
    }

    /// The agent saw a change in the cluster. Once every change of its operation has arrived, the
    /// request takes effect in one transaction: the overrides are placed (or cleared) and the
    /// operation is handed to the agent (`pending`) or, for an override alone, finished.
    public func arriveGitOps(changeId: String, at now: Date) async throws -> GitOpsArrival {
        try await writer.write { db in
            guard var change = try GitOpsChangeRecord.fetchOne(db, key: changeId), change.state == .open else { return GitOpsArrival() }
            if change.arrivedAt == nil {
                change.arrivedAt = now
                change.updatedAt = now
                try change.update(db)
            }
            let siblings = try GitOpsChangeRecord.filter(GitOpsChangeRecord.Columns.operationId == change.operationId).fetchAll(db)
            guard var operation = try OperationRecord.fetchOne(db, key: change.operationId), operation.state == .waiting,
                  siblings.allSatisfy({ $0.state == .open && $0.arrivedAt != nil })
            else { return GitOpsArrival() }
            var arrival = GitOpsArrival()
            for sibling in siblings {
                if sibling.removal {
                    if let cleared = try OverrideRecord.fetchOne(db, key: sibling.overrideId), cleared.clearedAt == nil {
                        var closed = cleared
                        closed.clearedAt = now
                        closed.endReason = .cleared
                        try closed.update(db)
                        arrival.cleared.append(closed)
                    }
                } else if try OverrideRecord.fetchOne(db, key: sibling.overrideId) == nil {
                    arrival.replaced += try Self.place([sibling.override], at: now, in: db)
                }
            }
            if ["sleep", "wake"].contains(operation.action) {
                operation.state = .pending
            } else {
                operation.state = .succeeded
                operation.finishedAt = now
            }
            try operation.update(db)
            arrival.operation = operation
            return arrival
        }
    }

    /// Ends a GitOps request that will not take effect: its operation and every open change of it
    /// end in `state` (failed or rejected); `finish` records why on the operation.
    @discardableResult
    public func endGitOps(
        operationId: String, as state: GitOpsChangeRecord.State, at now: Date, finish: @escaping @Sendable (inout OperationRecord) -> Void
    ) async throws -> OperationRecord? {
        try await writer.write { db in
            for var change in try GitOpsChangeRecord.filter(GitOpsChangeRecord.Columns.operationId == operationId).fetchAll(db) where change.state == .open {
                change.state = state
                change.updatedAt = now
                try change.update(db)
            }
            guard var operation = try OperationRecord.fetchOne(db, key: operationId) else { return nil }
            if !operation.state.isFinished {
                operation.state = state == .rejected ? .rejected : .failed
                operation.finishedAt = now
            }
            finish(&operation)
            try operation.update(db)
            return operation
        }
    }
}
