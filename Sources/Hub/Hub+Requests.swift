import Config
import Foundation
import Scheduling
import Store

/// What people ask of the hub: sleeps, wakes and overrides. Every source (API, CLI, Slack
/// commands and buttons) comes through here and is checked the same way, all or nothing.
extension Hub {
    /// Sleeps or wakes namespaces of a cluster now (every managed namespace with `all`, which must
    /// be asked for explicitly), keeping them so until `duration` has passed (or, without one,
    /// until the schedule's next transition the other way). The operation and the overrides that
    /// keep its result are stored together; the agent takes the operation up at once.
    public func request(
        _ action: Transition.Kind, cluster name: String, namespaces: [String], all: Bool = false, duration: Duration?, reason: String?,
        by principal: Principal, source: String
    ) async throws(HubError) -> OperationRecord {
        try checkLimits(duration: duration, reason: reason)
        let (_, agent) = try await admit(action.rawValue, cluster: name, namespaces: namespaces, all: all, by: principal, source: source)
        // On a shared store the replica leading the cluster takes the request up; with a store of
        // its own, no other replica would ever see it.
        let ownership = await agent.status()
        if !ownership.ownedHere, !store.isShared {
            throw HubError(
                kind: .conflict,
                message: "cluster \(name) is managed by hub replica \(ownership.owner ?? "unknown"), and each replica has its own SQLite "
                    + "database: send the request there, or let the replicas share a PostgreSQL store"
            )
        }
        let now = clock.now
        if let throughGit = try await gitopsNamespaces(cluster: name, namespaces: namespaces, agent: agent) {
            return try await requestThroughGit(
                action.rawValue, kind: action == .sleep ? .sleep : .wake, cluster: cluster(name), namespaces: throughGit, reason: reason, by: principal, source: source
            ) { namespace in
                if let duration { return now.addingTimeInterval(duration.inSeconds) }
                return await agent.nextTransition(action == .sleep ? .wake : .sleep, namespace: namespace, after: now)
            }.operation
        }
        let operation = OperationRecord(cluster: name, namespaces: namespaces, action: action.rawValue, source: source, actor: principal.name, reason: reason, createdAt: now)
        var overrides: [OverrideRecord] = []
        for namespace in namespaces.isEmpty ? [nil] : namespaces.map(Optional.some) {
            // Without a duration: until the schedule next moves the namespace the other way.
            var until = duration.map { now.addingTimeInterval($0.inSeconds) }
            if until == nil { until = await agent.nextTransition(action == .sleep ? .wake : .sleep, namespace: namespace, after: now) }
            overrides.append(OverrideRecord(
                cluster: name, namespace: namespace, kind: action == .sleep ? .sleep : .wake, until: until, reason: reason,
                actor: principal.name, createdAt: now, operationId: operation.id
            ))
        }
        let replaced: [OverrideRecord]
        do {
            replaced = try await store.accept(operation, overrides: overrides, at: now)
        } catch {
            throw .internal("\(error)")
        }
        let detail = [reason, duration.map { "for \(DurationText.format($0))" }].compactMap { $0 }.joined(separator: " ")
        await audit(principal, source: source, action: action.rawValue, cluster: name, namespaces: namespaces, result: "accepted", detail: detail)
        await auditReplaced(replaced, by: principal, source: source)
        await workAccepted(cluster: name)
        return operation
    }

    /// Makes overrides of `namespaces` of a cluster (one for the whole cluster with `all`); each
    /// replaces the older ones it covers.
    @discardableResult
    public func createOverride(
        cluster name: String, namespaces: [String], all: Bool = false, kind: OverrideRecord.Kind, until: Date?, reason: String?,
        by principal: Principal, source: String
    ) async throws(HubError) -> [OverrideRecord] {
        let now = clock.now
        if let until, until <= now { throw .badRequest("until must be in the future", field: "until") }
        try checkLimits(duration: until.map { .seconds($0.timeIntervalSince(now)) }, field: "until", reason: reason)
        let (cluster, agent) = try await admit("override-\(kind.rawValue)", cluster: name, namespaces: namespaces, all: all, by: principal, source: source)
        if let throughGit = try await gitopsNamespaces(cluster: name, namespaces: namespaces, agent: agent) {
            // Proposed: in force once merged and synced (`gitopsOperation(carrying:)` follows them).
            return try await requestThroughGit("override-\(kind.rawValue)", kind: kind, cluster: cluster, namespaces: throughGit, reason: reason, by: principal, source: source) { _ in until }
                .changes.map(\.override)
        }
        let records = (namespaces.isEmpty ? [nil] : namespaces.map(Optional.some)).map { namespace in
            OverrideRecord(cluster: name, namespace: namespace, kind: kind, until: kind == .skip ? nil : until, reason: reason, actor: principal.name, createdAt: now)
        }
        let replaced: [OverrideRecord]
        do {
            replaced = try await store.place(records, at: now)
        } catch {
            throw .internal("\(error)")
        }
        await audit(principal, source: source, action: "override-\(kind.rawValue)", cluster: name, namespaces: namespaces, result: "ok", detail: reason ?? "")
        await auditReplaced(replaced, by: principal, source: source)
        await workAccepted(cluster: name)
        return records
    }

    /// Clears an override, named by its id or the start of it. One of a GitOps-managed namespace
    /// is cleared through a merge request: its operation is returned.
    @discardableResult
    public func deleteOverride(id: String, by principal: Principal, source: String) async throws(HubError) -> OperationRecord? {
        let record = try await openOverride(id: id)
        let cluster = try cluster(record.cluster)
        let namespaces = record.namespace.map { [$0] } ?? []
        if let denial = principal.mayOperate(on: cluster, namespaces: namespaces) {
            await audit(principal, source: source, action: "override-delete", cluster: record.cluster, namespaces: namespaces, result: "denied", detail: denial.reason)
            throw .forbidden(denial.reason)
        }
        if let agent = agents[record.cluster], !namespaces.isEmpty,
           let throughGit = try await gitopsNamespaces(cluster: record.cluster, namespaces: namespaces, agent: agent) {
            return try await requestThroughGit(
                "override-clear", kind: record.kind, cluster: cluster, namespaces: throughGit, reason: "clear override \(record.id)", by: principal,
                source: source, removing: record
            ) { _ in record.until }.operation
        }
        do {
            try await store.closeOverride(id: record.id, at: clock.now, because: .cleared)
        } catch {
            throw .internal("\(error)")
        }
        await audit(principal, source: source, action: "override-delete", cluster: record.cluster, namespaces: namespaces, result: "ok", detail: record.id)
        await workAccepted(cluster: record.cluster)
        return nil
    }

    /// The open override whose id is `id` or starts with it.
    func openOverride(id: String) async throws(HubError) -> OverrideRecord {
        let found: [OverrideRecord]
        do {
            found = try await id.isEmpty ? [] : store.overrides(idPrefix: id)
        } catch {
            throw .internal("\(error)")
        }
        let open = found.filter { $0.clearedAt == nil }
        guard let record = open.first(where: { $0.id == id }) ?? open.first else {
            throw .notFound("override \(id) not found or already cleared", field: "id")
        }
        if open.count > 1, record.id != id {
            throw .badRequest("override id \(id) is ambiguous: \(open.map(\.id).joined(separator: ", ")); give more of it", field: "id")
        }
        return record
    }

    /// Checks a request before anything is stored: the cluster exists, the request names its
    /// namespaces or asks for all of them (never by omission), the principal may act on every
    /// namespace named (or the whole cluster), the agent knows its namespaces, and each one named
    /// is managed. Denials are audited.
    func admit(
        _ action: String, cluster name: String, namespaces: [String], all: Bool, by principal: Principal, source: String
    ) async throws(HubError) -> (ClusterConfiguration, ClusterAgent) {
        let cluster = try cluster(name)
        if all, !namespaces.isEmpty { throw .badRequest("give namespaces or all, not both", field: "all") }
        if !all, namespaces.isEmpty {
            throw .badRequest(
                "name the namespaces of \(name) to act on, or ask for every one of them explicitly (API: \"all\": true; CLI: --all; Slack: all)",
                field: "namespaces"
            )
        }
        if let denial = principal.mayOperate(on: cluster, namespaces: namespaces) {
            await audit(principal, source: source, action: action, cluster: name, namespaces: namespaces, result: "denied", detail: denial.reason)
            throw .forbidden(denial.reason)
        }
        guard let agent = agents[name] else {
            throw HubError(kind: .unavailable, message: "cluster \(name) cannot be reached: \(unusable[name] ?? "no agent")")
        }
        guard let managed = await agent.managedNamespaces() else {
            throw HubError(kind: .unavailable, message: "cluster \(name) is not synced yet (reachable: \(await agent.health.reachable)); try again shortly")
        }
        let unknown = namespaces.filter { !managed.contains($0) }
        if !unknown.isEmpty {
            let listing = managed.isEmpty ? "it manages none yet" : "managed: \(managed.joined(separator: ", "))"
            throw .notFound("cluster \(name) has no managed namespace \(unknown.joined(separator: ", ")); \(listing)", field: "namespaces")
        }
        if namespaces.isEmpty, managed.isEmpty {
            throw .notFound("cluster \(name) manages no namespace yet: no SleepInfo and no hub schedule selects one", field: "cluster")
        }
        return (cluster, agent)
    }

    /// Refuses what no source may ask for: longer than `limits.maxDuration`, a reason longer than
    /// `limits.maxReasonLength` or with control characters.
    func checkLimits(duration: Duration?, field: String = "duration", reason: String?) throws(HubError) {
        let limits = configuration.limits
        if let duration, duration > limits.maxDuration {
            throw .badRequest("\(field) may be at most \(DurationText.format(limits.maxDuration)) from now (limits.maxDuration)", field: field)
        }
        guard let reason else { return }
        if reason.count > limits.maxReasonLength {
            throw .badRequest("reason is \(reason.count) characters long; at most \(limits.maxReasonLength) (limits.maxReasonLength)", field: "reason")
        }
        if reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw .badRequest("reason must be one line of text, without control characters", field: "reason")
        }
    }

    /// Overrides a new one replaced, in the audit trail.
    func auditReplaced(_ replaced: [OverrideRecord], by principal: Principal, source: String) async {
        for record in replaced {
            await audit(
                principal, source: source, action: "override-superseded", cluster: record.cluster,
                namespaces: record.namespace.map { [$0] } ?? [], result: "ok",
                detail: "\(record.kind.rawValue) override \(record.id) replaced by \(record.replacedBy ?? "?")"
            )
        }
    }
}
