import Foundation
import JSON
import Scheduling
import Store

/// How the hub's objects look in the API (and in `sandman ... -o json`).
enum Representation {
    static func time(_ date: Date?) -> JSONValue {
        date.map { .string($0.formatted(.iso8601)) } ?? .null
    }

    /// The next change of a namespace's state: what, when, and what brings it.
    static func change(_ change: Change?, now: Date) -> JSONValue {
        guard let change else { return .null }
        return [
            "action": .string(change.kind.rawValue), "at": time(change.at), "inSeconds": .int(Int64(change.at.timeIntervalSince(now))),
            "cause": .string(change.cause.rawValue),
        ]
    }

    static func cluster(_ status: ClusterStatus, savings: Double, now: Date) -> JSONValue {
        let next = status.nextChange
        var nextJSON = change(next?.change, now: now)
        if let next { nextJSON["namespace"] = .string(next.namespace) }
        return [
            "name": .string(status.name), "tier": .string(status.tier.rawValue),
            "reachable": .bool(status.health.reachable), "ready": .bool(status.health.ready),
            "version": status.health.version.map(JSONValue.string) ?? .null,
            "lastError": status.health.lastError.map(JSONValue.string) ?? .null,
            "lastProbe": time(status.health.lastProbe),
            "namespaces": ["managed": .int(Int64(status.namespaces.count)), "asleep": .int(Int64(status.asleepCount)), "awake": .int(Int64(status.namespaces.filter { $0.asleep == false }.count))],
            "nextTransition": nextJSON,
            "savings": ["week": .double((savings * 100).rounded() / 100)],
            "owner": status.owner.map(JSONValue.string) ?? .null,
            "ownedHere": .bool(status.ownedHere),
        ]
    }

    static func namespace(_ status: NamespaceStatus, now: Date) -> JSONValue {
        [
            "namespace": .string(status.namespace), "unit": .string(status.unit), "team": status.team.map(JSONValue.string) ?? .null,
            "state": .string(status.problem != nil && status.asleep == nil ? "invalid" : (status.asleep == true ? "asleep" : (status.asleep == false ? "awake" : "unknown"))),
            "sleptSince": time(status.sleptSince), "schedule": status.schedule,
            "nextTransition": change(status.nextChange, now: now),
            // To the millisecond: clients wait for an evaluation after something they did.
            "evaluatedAt": status.evaluatedAt.map { .string($0.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))) } ?? .null,
            "override": status.override.map(override) ?? .null,
            "problem": status.problem.map(JSONValue.string) ?? .null,
            "heldBy": status.heldBy.map { ["plugin": .string($0.plugin ?? ""), "reason": $0.reason.map(JSONValue.string) ?? .null] } ?? .null,
            "graceUntil": time(status.graceUntil),
        ]
    }

    static func operation(_ operation: OperationRecord) -> JSONValue {
        // GitOps requests: `{stage, at, namespace, detail, url}` as they advance.
        let stages: JSONValue = operation.stages == nil ? .null : .array(OperationStages.list(operation.stages))
        return [
            "id": .string(operation.id), "cluster": .string(operation.cluster), "namespaces": .array(operation.namespaces.map(JSONValue.string)),
            "action": .string(operation.action), "source": .string(operation.source), "actor": .string(operation.actor),
            "reason": operation.reason.map(JSONValue.string) ?? .null, "state": .string(operation.state.rawValue),
            "summary": operation.summary.flatMap { try? JSONValue(parsing: $0) } ?? .null,
            "createdAt": time(operation.createdAt), "finishedAt": time(operation.finishedAt),
            "stages": stages,
        ]
    }

    static func override(_ record: OverrideRecord) -> JSONValue {
        [
            "id": .string(record.id), "cluster": .string(record.cluster), "namespace": record.namespace.map(JSONValue.string) ?? .null,
            "kind": .string(record.kind.rawValue), "scope": .string(record.namespace == nil ? "cluster" : "namespace"),
            "until": time(record.until), "reason": record.reason.map(JSONValue.string) ?? .null,
            "actor": .string(record.actor), "createdAt": time(record.createdAt),
            "operation": record.operationId.map(JSONValue.string) ?? .null,
            "endedAt": time(record.clearedAt), "endReason": record.endReason.map { .string($0.rawValue) } ?? .null,
        ]
    }

    static func audit(_ entry: AuditEntry) -> JSONValue {
        [
            "at": time(entry.at), "actor": .string(entry.actor), "source": .string(entry.source), "action": .string(entry.action),
            "cluster": entry.cluster.map(JSONValue.string) ?? .null, "namespace": entry.namespace.map(JSONValue.string) ?? .null,
            "target": entry.target.map(JSONValue.string) ?? .null, "result": .string(entry.result), "detail": entry.detail.map(JSONValue.string) ?? .null,
        ]
    }
}
