import Foundation

/// One change to one namespace's SleepInfo manifest in git, made for a person's request in
/// GitOps mode: the `sandman.dev/override` annotation set (or removed) through a merge request,
/// merged, synced by Argo CD, then seen by the agent. Every step is recorded, so that a hub that
/// restarts carries on where it stopped.
public struct GitOpsChangeRecord: Codable, Sendable, Equatable {

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
}

extension GitOpsChangeRecord: SQLRecord {
    static let table = "gitopsChange"
    static let primaryKey = ["id"]

    init(row: SQLRow) throws {
        self.init(
            id: try row.string("id"), operationId: try row.string("operationId"), cluster: try row.string("cluster"),
            namespace: try row.string("namespace"), overrideId: try row.string("overrideId"), removal: try row.bool("removal"),
            kind: try row.enumeration("kind"), until: try row.optionalDate("until"), reason: try row.optionalString("reason"),
            actor: try row.string("actor"), annotation: try row.optionalString("annotation"), path: try row.string("path"),
            application: try row.string("application"), needsApproval: try row.bool("needsApproval"), createdAt: try row.date("createdAt")
        )
        stage = try row.enumeration("stage")
        state = try row.enumeration("state")
        branch = try row.optionalString("branch")
        mergeRequestIID = try row.optionalInt("mergeRequestIID")
        mergeRequestURL = try row.optionalString("mergeRequestURL")
        mergeSHA = try row.optionalString("mergeSHA")
        arrivedAt = try row.optionalDate("arrivedAt")
        supersededBy = try row.optionalString("supersededBy")
        lastError = try row.optionalString("lastError")
        attempts = try row.int("attempts")
        nextAttemptAt = try row.date("nextAttemptAt")
        stageStartedAt = try row.date("stageStartedAt")
        updatedAt = try row.date("updatedAt")
    }

    var columns: [(String, SQLValue)] {
        [
            ("id", id.sqlValue), ("operationId", operationId.sqlValue), ("cluster", cluster.sqlValue), ("namespace", namespace.sqlValue),
            ("overrideId", overrideId.sqlValue), ("removal", removal.sqlValue), ("kind", kind.sqlValue), ("until", until.sqlValue),
            ("reason", reason.sqlValue), ("actor", actor.sqlValue), ("annotation", annotation.sqlValue), ("path", path.sqlValue),
            ("application", application.sqlValue), ("needsApproval", needsApproval.sqlValue), ("stage", stage.sqlValue),
            ("state", state.sqlValue), ("branch", branch.sqlValue), ("mergeRequestIID", mergeRequestIID.sqlValue),
            ("mergeRequestURL", mergeRequestURL.sqlValue), ("mergeSHA", mergeSHA.sqlValue), ("arrivedAt", arrivedAt.sqlValue),
            ("supersededBy", supersededBy.sqlValue), ("lastError", lastError.sqlValue), ("attempts", attempts.sqlValue),
            ("nextAttemptAt", nextAttemptAt.sqlValue), ("stageStartedAt", stageStartedAt.sqlValue), ("createdAt", createdAt.sqlValue),
            ("updatedAt", updatedAt.sqlValue),
        ]
    }
}

extension SQLSession {
    func gitopsChange(id: String) throws -> GitOpsChangeRecord? {
        try fetchOne(GitOpsChangeRecord.self, "SELECT * FROM gitopsChange WHERE id = ?", [id])
    }

    func gitopsChanges(operationId: String) throws -> [GitOpsChangeRecord] {
        try fetchAll(GitOpsChangeRecord.self, "SELECT * FROM gitopsChange WHERE operationId = ? ORDER BY createdAt, id", [operationId])
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
        try await backend.write { db in
            try db.insert(operation)
            var superseded: [String: OperationRecord] = [:]
            for change in changes {
                let older = try db.fetchAll(
                    GitOpsChangeRecord.self, "SELECT * FROM gitopsChange WHERE cluster = ? AND namespace = ? AND state = ? ORDER BY createdAt, id",
                    [change.cluster, change.namespace, GitOpsChangeRecord.State.open.rawValue]
                ).filter { $0.stage < .merged }
                for old in older where superseded[old.operationId] == nil {
                    guard var oldOperation = try db.operation(id: old.operationId) else { continue }
                    for var sibling in try db.gitopsChanges(operationId: old.operationId) where sibling.state == .open {
                        sibling.state = .superseded
                        sibling.supersededBy = change.id
                        sibling.updatedAt = now
                        sibling.nextAttemptAt = now
                        try db.update(sibling)
                    }
                    if !oldOperation.state.isFinished {
                        oldOperation.state = .superseded
                        oldOperation.finishedAt = now
                        oldOperation.summary = #"{"supersededBy":"\#(operation.id)"}"#
                        try db.update(oldOperation)
                    }
                    superseded[old.operationId] = oldOperation
                }
                try db.insert(change)
            }
            return Array(superseded.values)
        }
    }

    /// Changes the coordinator still has work on, oldest first.
    public func gitopsChangesNeedingWork() async throws -> [GitOpsChangeRecord] {
        try await backend.read { db in
            try db.fetchAll(
                GitOpsChangeRecord.self, "SELECT * FROM gitopsChange WHERE state IN (?, ?) AND stage <> ? ORDER BY createdAt, id",
                [GitOpsChangeRecord.State.open.rawValue, GitOpsChangeRecord.State.superseded.rawValue, GitOpsChangeRecord.Stage.done.rawValue]
            ).filter(\.needsWork)
        }
    }

    public func gitopsChange(id: String) async throws -> GitOpsChangeRecord? {
        try await backend.read { db in try db.gitopsChange(id: id) }
    }

    public func gitopsChanges(operationId: String) async throws -> [GitOpsChangeRecord] {
        try await backend.read { db in try db.gitopsChanges(operationId: operationId) }
    }

    /// The changes of a namespace, newest first.
    public func gitopsChanges(cluster: String, namespace: String) async throws -> [GitOpsChangeRecord] {
        try await backend.read { db in
            try db.fetchAll(
                GitOpsChangeRecord.self, "SELECT * FROM gitopsChange WHERE cluster = ? AND namespace = ? ORDER BY createdAt DESC, id DESC",
                [cluster, namespace]
            )
        }
    }

    /// The change carrying (or clearing) an override.
    public func gitopsChange(overrideId: String) async throws -> GitOpsChangeRecord? {
        try await backend.read { db in
            try db.fetchOne(GitOpsChangeRecord.self, "SELECT * FROM gitopsChange WHERE overrideId = ? ORDER BY createdAt DESC, id DESC LIMIT 1", [overrideId])
        }
    }

    /// The changes driven through a merge request.
    public func gitopsChanges(mergeRequestIID iid: Int) async throws -> [GitOpsChangeRecord] {
        try await backend.read { db in
            try db.fetchAll(GitOpsChangeRecord.self, "SELECT * FROM gitopsChange WHERE mergeRequestIID = ? ORDER BY createdAt, id", [iid])
        }
    }

    /// Changes a change in one write transaction; nil when it does not exist.
    @discardableResult
    public func updateGitOpsChange(id: String, _ change: @escaping @Sendable (inout GitOpsChangeRecord) -> Void) async throws -> GitOpsChangeRecord? {
        try await backend.write { db in
            guard var record = try db.gitopsChange(id: id) else { return nil }
            change(&record)
            try db.update(record)
            return record
        }
    }

    /// The agent saw a change in the cluster. Once every change of its operation has arrived, the
    /// request takes effect in one transaction: the overrides are placed (or cleared) and the
    /// operation is handed to the agent (`pending`) or, for an override alone, finished.
    public func arriveGitOps(changeId: String, at now: Date) async throws -> GitOpsArrival {
        try await backend.write { db in
            guard var change = try db.gitopsChange(id: changeId), change.state == .open else { return GitOpsArrival() }
            if change.arrivedAt == nil {
                change.arrivedAt = now
                change.updatedAt = now
                try db.update(change)
            }
            let siblings = try db.gitopsChanges(operationId: change.operationId)
            guard var operation = try db.operation(id: change.operationId), operation.state == .waiting,
                  siblings.allSatisfy({ $0.state == .open && $0.arrivedAt != nil })
            else { return GitOpsArrival() }
            var arrival = GitOpsArrival()
            for sibling in siblings {
                if sibling.removal {
                    if let cleared = try db.override(id: sibling.overrideId), cleared.clearedAt == nil {
                        var closed = cleared
                        closed.clearedAt = now
                        closed.endReason = .cleared
                        try db.update(closed)
                        arrival.cleared.append(closed)
                    }
                } else if try db.override(id: sibling.overrideId) == nil {
                    arrival.replaced += try Self.place([sibling.override], at: now, in: db)
                }
            }
            if ["sleep", "wake"].contains(operation.action) {
                operation.state = .pending
            } else {
                operation.state = .succeeded
                operation.finishedAt = now
            }
            try db.update(operation)
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
        try await backend.write { db in
            for var change in try db.gitopsChanges(operationId: operationId) where change.state == .open {
                change.state = state
                change.updatedAt = now
                try db.update(change)
            }
            guard var operation = try db.operation(id: operationId) else { return nil }
            if !operation.state.isFinished {
                operation.state = state == .rejected ? .rejected : .failed
                operation.finishedAt = now
            }
            finish(&operation)
            try db.update(operation)
            return operation
        }
    }
}
