import Foundation
import JSON
import Kube
import Store

/// The override in force for a SleepInfo's namespace, mirrored on the SleepInfo as the
/// annotation `sandman.dev/override`, so that other hub replicas and people with kubectl see it.
/// It is read back too: an override written there by hand (or by a replica with another
/// database) that this hub does not know is taken in.
struct OverrideAnnotation: Equatable {
    static let key = "sandman.dev/override"

    var id: String?
    var kind: OverrideRecord.Kind
    var until: Date?
    /// True for an override of the whole cluster.
    var wholeCluster: Bool
    var actor: String?
    var reason: String?

    init(_ record: OverrideRecord) {
        id = record.id
        kind = record.kind
        until = record.until
        wholeCluster = record.namespace == nil
        actor = record.actor
        reason = record.reason
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
        if let until = value["until"]?.string {
            guard let date = KubeTime.parse(until) else { throw AnnotationError("until must be an RFC 3339 time, got \"\(until)\"") }
            self.until = date
        }
        id = value["id"]?.string
        wholeCluster = value["scope"]?.string == "cluster"
        actor = value["actor"]?.string
        reason = value["reason"]?.string
    }

    var text: String {
        var value: JSONValue = ["kind": .string(kind.rawValue)]
        if let id { value["id"] = .string(id) }
        if let until { value["until"] = .string(KubeTime.format(until)) }
        if wholeCluster { value["scope"] = "cluster" }
        if let actor { value["actor"] = .string(actor) }
        if let reason { value["reason"] = .string(reason) }
        return value.serialized()
    }

    struct AnnotationError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

extension ClusterAgent {
    /// Brings the SleepInfo's annotation in line with `override` (nil: none in force), or takes
    /// in an override found there that the store does not know. Failures are logged: the
    /// annotation is a mirror, the store stays the source of truth.
    func mirror(_ override: OverrideRecord?, on sleepInfo: SleepInfo, now: Date) async {
        let current = sleepInfo.metadata.annotations[OverrideAnnotation.key]
        var desired = override.map { OverrideAnnotation($0).text }
        guard current != desired else { return }
        do {
            if let current {
                let found: OverrideAnnotation
                do {
                    found = try OverrideAnnotation(parsing: current)
                } catch {
                    await reportInvalid(sleepInfo, problem: "annotation \(OverrideAnnotation.key): \(error)")
                    return
                }
                var known = false
                if let id = found.id { known = try await store.override(id: id) != nil }
                if !known, found.until.map({ $0 > now }) ?? true {
                    // Written back with its id, so that it is taken in once.
                    desired = OverrideAnnotation(try await adopt(found, from: sleepInfo, now: now)).text
                }
            }
            let patched = try await client.patch(SleepInfo.self, namespace: sleepInfo.namespace, name: sleepInfo.name, .merge(["metadata": ["annotations": [OverrideAnnotation.key: desired.map(JSONValue.string) ?? .null]]]))
            cache(patched)
        } catch {
            logger.warning("cannot mirror the override on the SleepInfo", metadata: ["namespace": "\(sleepInfo.namespace ?? "")", "sleepInfo": "\(sleepInfo.name)", "error": "\(error)"])
        }
    }

    /// An override made outside this hub: stored like one made through the API, then acted on.
    private func adopt(_ found: OverrideAnnotation, from sleepInfo: SleepInfo, now: Date) async throws -> OverrideRecord {
        let record = OverrideRecord(
            id: found.id ?? UUID().uuidString.lowercased(), cluster: name, namespace: found.wholeCluster ? nil : sleepInfo.namespace,
            kind: found.kind, until: found.until, reason: found.reason, actor: found.actor ?? "kubectl", createdAt: now
        )
        try await store.save(record)
        try await store.record(AuditEntry(at: now, actor: record.actor, source: "annotation", action: "override-\(record.kind.rawValue)", cluster: name, namespace: record.namespace, target: sleepInfo.name, result: "ok", detail: record.reason))
        logger.notice("override taken in from the SleepInfo annotation", metadata: ["namespace": "\(sleepInfo.namespace ?? "")", "kind": "\(record.kind.rawValue)", "actor": "\(record.actor)"])
        wake()
        return record
    }
}
