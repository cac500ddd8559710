import Foundation
import JSON
import Kube
import Store

/// The override shown for a SleepInfo's namespace (its own, else its cluster's), mirrored on the
/// SleepInfo as the annotation `sandman.dev/override`, so that other hub replicas and people with
/// kubectl see it. It is read back too: an override written there by hand is taken in.
struct OverrideAnnotation: Equatable {
    static let key = "sandman.dev/override"

    var id: String?
    var kind: OverrideRecord.Kind
    var until: Date?
    /// True for an override of the whole cluster.
    var wholeCluster: Bool
    var actor: String?
    var reason: String?
    var createdAt: Date?

    init(_ record: OverrideRecord) {
        id = record.id
        kind = record.kind
        until = record.until
        wholeCluster = record.namespace == nil
        actor = record.actor
        reason = record.reason
        createdAt = record.createdAt
    }

    /// Parses the annotation; the error names the field.
    init(parsing text: String) throws(AnnotationError) {
        guard let value = try? JSONValue(parsing: Data(text.utf8)), value.object != nil else {
            throw AnnotationError("not a JSON object such as {\"kind\":\"wake\",\"until\":\"2027-01-04T22:00:00Z\"}")
        }
        guard let kind = value["kind"]?.string.flatMap(OverrideRecord.Kind.init(rawValue:)) else {
            throw AnnotationError("kind must be one of wake, sleep, skip")
        }
        self.kind = kind
        until = try Self.time(value, "until")
        createdAt = try Self.time(value, "createdAt")
        id = value["id"]?.string
        wholeCluster = value["scope"]?.string == "cluster"
        actor = value["actor"]?.string
        reason = value["reason"]?.string
    }

    private static func time(_ value: JSONValue, _ field: String) throws(AnnotationError) -> Date? {
        guard let text = value[field]?.string else { return nil }
        guard let date = KubeTime.parse(text) else { throw AnnotationError("\(field) must be an RFC 3339 time, got \"\(text)\"") }
        return date
    }

    var text: String {
        var value: JSONValue = ["kind": .string(kind.rawValue)]
        if let id { value["id"] = .string(id) }
        if let until { value["until"] = .string(KubeTime.format(until)) }
        if wholeCluster { value["scope"] = "cluster" }
        if let actor { value["actor"] = .string(actor) }
        if let reason { value["reason"] = .string(reason) }
        if let createdAt { value["createdAt"] = .string(KubeTime.format(createdAt)) }
        return value.serialized()
    }

    /// Whether both say the same thing (whatever the wording of the JSON).
    func means(_ other: OverrideAnnotation) -> Bool {
        kind == other.kind && until == other.until && wholeCluster == other.wholeCluster
    }

    struct AnnotationError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

extension ClusterAgent {
    /// Brings the SleepInfo's annotation in line with `shown` (nil: none), taking in an override
    /// written there by hand. Failures are logged: the store stays the source of truth.
    func mirror(_ shown: OverrideRecord?, on sleepInfo: SleepInfo, overrides: [OverrideRecord], now: Date) async {
        let current = sleepInfo.metadata.annotations[OverrideAnnotation.key]
        var desired = shown.map(OverrideAnnotation.init)
        guard current != desired?.text else { return }
        do {
            if let current {
                let found: OverrideAnnotation
                do {
                    found = try OverrideAnnotation(parsing: current)
                } catch {
                    await reportInvalid(sleepInfo, problem: "annotation \(OverrideAnnotation.key): \(error)")
                    return
                }
                if let desired, found.id == desired.id, found.means(desired) {
                    // The same override, written otherwise: only the wording is brought in line.
                } else if try await isHandWritten(found, shown: shown, now: now) {
                    desired = OverrideAnnotation(try await adopt(found, from: sleepInfo, now: now))
                } else {
                    try await store.record(AuditEntry(
                        at: now, actor: "sandman", source: "annotation", action: "annotation-replaced", cluster: name,
                        namespace: sleepInfo.namespace, target: sleepInfo.name, result: "ok",
                        detail: "\(current) replaced by \(desired?.text ?? "nothing"): it is not the override in force"
                    ))
                }
            }
            let value = desired.map { JSONValue.string($0.text) } ?? .null
            let patch: JSONValue = ["metadata": ["annotations": [OverrideAnnotation.key: value]]]
            cache(try await client.patch(SleepInfo.self, namespace: sleepInfo.namespace, name: sleepInfo.name, .merge(patch)))
        } catch {
            logger.warning("cannot mirror the override on the SleepInfo", metadata: [
                "namespace": "\(sleepInfo.namespace ?? "")", "sleepInfo": "\(sleepInfo.name)", "error": "\(error)",
            ])
        }
    }

    /// An annotation a person wrote: not one of the hub's overrides (or one of them edited), not
    /// over, and not older than the override in force.
    private func isHandWritten(_ found: OverrideAnnotation, shown: OverrideRecord?, now: Date) async throws -> Bool {
        if let until = found.until, until <= now { return false }
        if let id = found.id, let known = try await store.override(id: id) {
            // One of the hub's overrides, edited by hand while it is the one in force.
            return id == shown?.id && !found.means(OverrideAnnotation(known))
        }
        if let createdAt = found.createdAt, let shown, createdAt < shown.createdAt { return false }
        return true
    }

    /// An override made outside this hub: stored like one made through the API (replacing the
    /// ones it covers), audited, then acted on.
    private func adopt(_ found: OverrideAnnotation, from sleepInfo: SleepInfo, now: Date) async throws -> OverrideRecord {
        let record = OverrideRecord(
            cluster: name, namespace: found.wholeCluster ? nil : sleepInfo.namespace, kind: found.kind,
            until: found.kind == .skip ? nil : found.until, reason: found.reason, actor: found.actor ?? "kubectl", createdAt: now
        )
        let replaced = try await store.place([record], at: now)
        try await store.record(AuditEntry(
            at: now, actor: record.actor, source: "annotation", action: "override-\(record.kind.rawValue)", cluster: name,
            namespace: record.namespace, target: sleepInfo.name, result: "ok", detail: record.reason
        ))
        for old in replaced {
            try await store.record(AuditEntry(
                at: now, actor: record.actor, source: "annotation", action: "override-superseded", cluster: name,
                namespace: old.namespace, target: old.id, result: "ok", detail: "\(old.kind.rawValue) override \(old.id) replaced by \(record.id)"
            ))
        }
        logger.notice("override taken in from the SleepInfo annotation", metadata: [
            "namespace": "\(sleepInfo.namespace ?? "")", "kind": "\(record.kind.rawValue)", "actor": "\(record.actor)",
        ])
        wake()
        return record
    }
}
