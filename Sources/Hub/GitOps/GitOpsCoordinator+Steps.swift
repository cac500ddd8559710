import Config
import Foundation
import GitOps
import JSON
import Scheduling
import Store

/// The steps of a change, one stage each. A step either moves the change to its next stage or
/// says when to look again; one that fails for a passing reason (throttling, a server error, no
/// answer) is tried again until its stage times out, any other failure ends the request.
extension GitOpsCoordinator {
    /// A step that cannot go on: `transient` ones are tried again until the stage times out.
    struct StepFailure: Error, CustomStringConvertible {
        var description: String
        var transient = false
    }

    /// Runs the step of a change's stage, if it is due.
    func advance(_ id: String) async {
        guard let change = try? await store.gitopsChange(id: id), change.needsWork else { return }
        if change.state == .superseded {
            await retire(change)
            return
        }
        let started = change.stageStartedAt
        let limit = timeout(of: change)
        // After the agent took the change in, the operation runs under the agent: no timeout.
        let bounded = !(change.stage == .synced && change.arrivedAt != nil)
        if bounded, now().timeIntervalSince(started) > limit.inSeconds {
            await fail(change, "\(timeoutText(change, after: limit))" + (change.lastError.map { "; last: \($0)" } ?? ""))
            return
        }
        do {
            switch change.stage {
            case .requested: try await openMergeRequest(change)
            case .mergeRequestOpened: try await merge(change)
            case .awaitingApproval: try await awaitApproval(change)
            case .merged: try await sync(change)
            case .synced: try await awaitAgent(change)
            case .done: break
            }
        } catch {
            let failure = Self.classify(error)
            if !failure.transient {
                await fail(change, "\(stageText(change.stage)): \(failure)")
            } else if now().timeIntervalSince(started) < limit.inSeconds {
                logger.notice("GitOps step will be tried again", metadata: ["change": "\(change.id)", "stage": "\(change.stage.rawValue)", "error": "\(failure)"])
                await retryLater(change, because: failure.description)
            } else {
                await fail(change, "\(timeoutText(change, after: limit)); last: \(failure)")
            }
        }
    }

    static func classify(_ error: any Error) -> StepFailure {
        switch error {
        case let failure as StepFailure: failure
        case let error as GitOpsError: StepFailure(description: error.description, transient: error.isTransient)
        default: StepFailure(description: "\(error)")
        }
    }

    // MARK: Stages

    /// Writes the annotation on Sandman's branch for the namespace (the open merge request's, or a
    /// new one from the target branch) and opens the merge request, or updates the open one.
    func openMergeRequest(_ change: GitOpsChangeRecord) async throws {
        guard let cluster = clusters[change.cluster] else { throw StepFailure(description: "cluster \(change.cluster) is no longer configured") }
        try await gitlab.checkProject()
        let target = settings.gitlab.targetBranch
        let prefix = Self.branchPrefix(cluster: change.cluster, namespace: change.namespace)
        let open = try await gitlab.openMergeRequests(labels: settings.gitlab.labels).filter { $0.sourceBranch.hasPrefix(prefix) }
        var mergeRequest = open.first { $0.iid == change.mergeRequestIID } ?? open.max { $0.iid < $1.iid }
        let branch = mergeRequest?.sourceBranch ?? change.branch ?? prefix + change.id.prefix(8)
        let branchExists = mergeRequest != nil ? true : try await gitlab.branchExists(branch)
        if change.branch != branch { try await store.updateGitOpsChange(id: change.id) { $0.branch = branch } }
        let text = await mergeRequestText(change)
        try await commitAnnotation(change, branch: branch, startBranch: branchExists ? nil : target, message: text.commitMessage)
        if let existing = mergeRequest {
            try await gitlab.updateMergeRequest(existing.iid, title: text.title, description: text.description)
            try? await gitlab.addNote(existing.iid, "Updated by Sandman for a newer request: \(text.title) ([operation](\(operationLink(change.operationId))))")
            mergeRequest = try await gitlab.mergeRequest(existing.iid)
        } else {
            // The refusal is handled after the catch: awaiting inside it crashes Swift 6.3's SILGen.
            var refusal: GitOpsError?
            do {
                mergeRequest = try await gitlab.createMergeRequest(
                    sourceBranch: branch, targetBranch: target, title: text.title, description: text.description, labels: settings.gitlab.labels
                )
            } catch {
                refusal = error
            }
            if let refusal {
                // Opened before the hub stopped: GitLab allows one open merge request per branch.
                guard refusal.reason == .conflict,
                      let found = try await gitlab.mergeRequests(sourceBranch: branch).first(where: { $0.state == .opened })
                else { throw refusal }
                mergeRequest = found
            }
        }
        guard let opened = mergeRequest else { return }
        let approvals = try await gitlab.approvals(opened.iid)
        let needsApproval = cluster.tier == .production || approvals.approvalsRequired > 0
        let moved = try await moveTo(change, .mergeRequestOpened, detail: opened.reference, url: opened.webURL) { record in
            record.mergeRequestIID = opened.iid
            record.mergeRequestURL = opened.webURL
            record.needsApproval = needsApproval
        }
        if needsApproval, let moved {
            let why = cluster.tier == .production ? "production" : "\(approvals.approvalsRequired) approval(s) required on \(target)"
            try await moveTo(moved, .awaitingApproval, detail: "waiting for approval (\(why))", url: opened.webURL)
        }
    }

    /// Edits the manifest on `branch` (created from `startBranch` when given) in one commit. A
    /// file changed since it was read (GitLab refuses the `last_commit_id`) is read again.
    private func commitAnnotation(_ change: GitOpsChangeRecord, branch: String, startBranch: String?, message: String) async throws {
        let ref = startBranch ?? branch
        for _ in 1...5 {
            guard let file = try await gitlab.file(change.path, ref: ref) else {
                throw StepFailure(description: "the manifest \(change.path) is not in \(settings.gitlab.project) on \(ref) (gitops.gitlab.pathTemplate)")
            }
            let edit: SleepInfoManifest.Edit
            do {
                edit = try SleepInfoManifest.setting(Self.annotationKey, to: change.annotation, in: String(decoding: file.content, as: UTF8.self), namespace: change.namespace)
            } catch {
                throw StepFailure(description: "\(change.path) on \(ref): \(error)")
            }
            // Already there: committed before the hub stopped.
            guard edit.changed else { return }
            if !edit.preservedLayout {
                logger.notice("manifest written anew: its layout could not be kept", metadata: ["path": "\(change.path)"])
            }
            var refusal: GitOpsError?
            do {
                _ = try await gitlab.commit(branch: branch, startBranch: startBranch, message: message, actions: [
                    .init(update: change.path, content: edit.text, lastCommitID: file.lastCommitID),
                ])
            } catch {
                refusal = error
            }
            guard let refusal else { return }
            // Refused: if the file changed since it was read, read it again; anything else stands.
            guard refusal.reason == .invalid, try await gitlab.file(change.path, ref: ref)?.lastCommitID != file.lastCommitID else { throw refusal }
            logger.info("manifest changed while being edited; reading it again", metadata: ["path": "\(change.path)"])
        }
        throw StepFailure(description: "\(change.path) kept changing while being edited", transient: true)
    }

    /// Merges a merge request that needs no approval. Right after it is opened GitLab is still
    /// checking it and answers 405: tried again with backoff.
    func merge(_ change: GitOpsChangeRecord) async throws {
        guard let iid = change.mergeRequestIID else { throw StepFailure(description: "no merge request recorded") }
        let request = try await gitlab.mergeRequest(iid)
        if try await settled(change, request) { return }
        if request.autoMerge {
            // GitLab merges it once its checks are done.
            return await retryLater(change, because: "auto-merge set, GitLab is \(request.detailedMergeStatus)")
        }
        try await mergeNow(change, request)
    }

    /// Waits for the approvals (events from the webhook, or polling), then merges.
    func awaitApproval(_ change: GitOpsChangeRecord) async throws {
        guard let iid = change.mergeRequestIID else { throw StepFailure(description: "no merge request recorded") }
        let request = try await gitlab.mergeRequest(iid)
        if try await settled(change, request) { return }
        let approvals = try await gitlab.approvals(iid)
        guard approvals.approvalsLeft == 0, approvals.approvalsRequired > 0 || !approvals.approvedBy.isEmpty else {
            return await wait(change, seconds: approvalPollInterval, because: "\(approvals.approvalsLeft) approval(s) left")
        }
        try await mergeNow(change, request)
    }

    private func mergeNow(_ change: GitOpsChangeRecord, _ request: GitLabClient.MergeRequest) async throws {
        let merged: GitLabClient.MergeRequest
        var refusal: GitOpsError?
        do {
            merged = try await gitlab.merge(request.iid, sha: request.sha, autoMerge: true)
        } catch {
            refusal = error
            merged = request
        }
        switch refusal?.reason {
        case nil:
            if try await settled(change, merged) { return }
            await retryLater(change, because: "merge requested, GitLab is \(merged.detailedMergeStatus)")
        case .notAllowed?, .conflict?:
            // 405: checks still running; 409: the branch moved since it was read.
            await retryLater(change, because: refusal?.description)
        case .cannotMerge?:
            throw StepFailure(description: "GitLab cannot merge \(request.reference): it conflicts with \(settings.gitlab.targetBranch) (\(refusal!))")
        default:
            throw refusal!
        }
    }

    /// Moves a change whose merge request is merged or closed on; false while it is open.
    private func settled(_ change: GitOpsChangeRecord, _ request: GitLabClient.MergeRequest) async throws -> Bool {
        switch request.state {
        case .merged:
            let sha = request.mergeCommitSHA ?? request.sha
            try await moveTo(change, .merged, detail: String(sha.prefix(8)), url: request.webURL) { $0.mergeSHA = sha }
            await agents[change.cluster]?.wake()
            return true
        case .closed:
            await end(change, as: .rejected, "merge request \(request.reference) was closed without being merged (\(request.webURL))")
            return true
        case .opened, .locked:
            return false
        }
    }

    /// Asks Argo CD to sync the merge (the SleepInfo only: a sync of the whole Application would
    /// also put back the replicas of a namespace asleep) and waits for it to be synced and healthy.
    func sync(_ change: GitOpsChangeRecord) async throws {
        if change.arrivedAt != nil {
            try await moveTo(change, .synced, detail: "\(change.application) (seen in the cluster)")
            return
        }
        guard let sha = change.mergeSHA else { throw StepFailure(description: "no merge commit recorded") }
        let resources = await agents[change.cluster]?.sleepInfoNames(in: change.namespace).map {
            ArgoCDClient.Resource(group: "kube-green.com", kind: "SleepInfo", namespace: change.namespace, name: $0)
        } ?? []
        let application = try await refreshedApplication(change.application)
        let atRevision = application.syncedRevision == sha || application.deployedRevisions.contains(sha)
        let synced = resources.allSatisfy { application.syncStatus(of: $0) == "Synced" }
        let healthy = ["Healthy", "Suspended"].contains(application.healthStatus ?? "")
        let state = "sync \(application.syncStatus ?? "?"), health \(application.healthStatus ?? "?"), last operation \(application.operationPhase ?? "none") at \(application.syncedRevision?.prefix(8) ?? "?")"
        if atRevision, application.operationPhase == "Succeeded", synced, healthy {
            try await moveTo(change, .synced, detail: change.application)
            await agents[change.cluster]?.wake()
            return
        }
        if !atRevision, !application.operationInProgress {
            let requested = await Self.outcome { () async throws(GitOpsError) in
                try await self.argocd.sync(change.application, revision: application.isAutomated ? nil : sha, resources: resources.isEmpty ? nil : resources)
            }
            // Argo CD's own sync of the new revision may be under way.
            if case .failure(let error) = requested, !error.isOperationInProgress { throw error }
        }
        await retryLater(change, because: "application \(change.application): \(state)")
    }

    /// The Application, compared with git now; one missing or not permitted ends the request.
    private func refreshedApplication(_ name: String) async throws -> Application {
        switch await Self.outcome({ () async throws(GitOpsError) in try await self.argocd.application(name, refresh: true) }) {
        case .success(let application):
            return application
        case .failure(let error) where [.notFound, .forbidden].contains(error.reason):
            throw StepFailure(description: "Argo CD application \(name) not found or not permitted: \(error) (gitops.argocd.applicationTemplate)")
        case .failure(let error):
            throw error
        }
    }

    /// A GitLab or Argo CD call's result as a value: catch clauses over these typed errors that
    /// await or rethrow crash Swift 6.3.1's SIL passes.
    static func outcome<T>(_ call: () async throws(GitOpsError) -> T) async -> Result<T, GitOpsError> {
        do {
            return .success(try await call())
        } catch {
            return .failure(error)
        }
    }

    /// Waits for the agent to see the change, then for the operation it runs to finish.
    func awaitAgent(_ change: GitOpsChangeRecord) async throws {
        guard change.arrivedAt != nil else {
            // The agent evaluates on the SleepInfo's watch event; this is in case it was missed.
            await agents[change.cluster]?.wake()
            return await wait(change, seconds: 0.5, because: "the agent has not seen the annotation yet")
        }
        guard let operation = try await store.operation(id: change.operationId), operation.state.isFinished else {
            return await wait(change, seconds: 0.25, because: nil)
        }
        try await moveTo(change, .done, detail: operation.state.rawValue) { $0.state = .done }
        metrics.recordGitOpsStage("total", seconds: clock.now.timeIntervalSince(change.createdAt))
        metrics.recordGitOpsResult(operation.state.rawValue)
    }

    // MARK: Ends

    /// A change superseded by a newer request: its merge request is closed, unless a newer change
    /// of the namespace carries on with it.
    func retire(_ change: GitOpsChangeRecord) async {
        if let iid = change.mergeRequestIID {
            let newer = ((try? await store.gitopsChanges(cluster: change.cluster, namespace: change.namespace)) ?? [])
                .first { $0.state == .open && $0.createdAt >= change.createdAt && $0.id != change.id }
            if newer == nil {
                var failure: GitOpsError?
                do {
                    try await gitlab.addNote(iid, "Closed by Sandman: a newer request replaced operation \(change.operationId).")
                    try await gitlab.close(iid)
                } catch {
                    failure = error
                }
                if let failure, failure.isTransient { return await retryLater(change, because: failure.description) }
                if let failure {
                    logger.warning("cannot close a superseded merge request", metadata: ["mergeRequest": "!\(iid)", "error": "\(failure)"])
                }
            }
        }
        _ = try? await store.updateGitOpsChange(id: change.id) { $0.stage = .done }
        metrics.recordGitOpsResult("superseded")
    }

    /// Ends the request of a change as failed, naming the stage.
    func fail(_ change: GitOpsChangeRecord, _ message: String) async {
        await end(change, as: .failed, message)
    }

    /// Ends a request (failed or rejected): its operation, every open change of it, the merge
    /// requests of those not merged yet; audited, announced.
    func end(_ change: GitOpsChangeRecord, as state: GitOpsChangeRecord.State, _ message: String) async {
        let hubNow = clock.now
        let siblings = (try? await store.gitopsChanges(operationId: change.operationId)) ?? [change]
        let ended: OperationRecord?
        do {
            ended = try await store.endGitOps(operationId: change.operationId, as: state, at: hubNow) { operation in
                var summary = operation.summary.flatMap { try? JSONValue(parsing: Data($0.utf8)) } ?? .emptyObject
                summary["error"] = .string(message)
                summary["stage"] = .string(change.stage.rawValue)
                operation.summary = summary.serialized()
                operation.addStage(state == .rejected ? "rejected" : "failed", namespace: change.namespace, detail: message, url: change.mergeRequestURL, at: hubNow)
            }
        } catch {
            logger.error("cannot end a GitOps request", metadata: ["operation": "\(change.operationId)", "error": "\(error)"])
            return
        }
        logger.warning(state == .rejected ? "GitOps request rejected" : "GitOps request failed", metadata: [
            "operation": "\(change.operationId)", "namespace": "\(change.namespace)", "stage": "\(change.stage.rawValue)", "reason": "\(message)",
        ])
        metrics.recordGitOpsResult(state.rawValue)
        for sibling in siblings where sibling.id != change.id && sibling.state == .open && sibling.stage < .merged {
            guard let iid = sibling.mergeRequestIID else { continue }
            try? await gitlab.addNote(iid, "Closed by Sandman: the request failed for another namespace (\(message)).")
            try? await gitlab.close(iid)
        }
        if state == .failed, change.stage < .merged, let iid = change.mergeRequestIID {
            try? await gitlab.addNote(iid, "Closed by Sandman: \(message)")
            try? await gitlab.close(iid)
        }
        guard let operation = ended else { return }
        _ = try? await store.record(AuditEntry(
            at: hubNow, actor: operation.actor, source: "gitops", action: operation.action, cluster: change.cluster, namespace: change.namespace,
            target: operation.id, result: state.rawValue, detail: message
        ))
        if let cluster = clusters[change.cluster], ["sleep", "wake"].contains(operation.action) {
            await events.operationFinished(operation, cluster: cluster, namespace: change.namespace, timeZone: nil, result: .failed(message), duration: .zero)
        }
    }

    // MARK: Bookkeeping

    /// Moves a change to `stage`, recording it on the operation (hub time) and in the metrics.
    @discardableResult
    func moveTo(
        _ change: GitOpsChangeRecord, _ stage: GitOpsChangeRecord.Stage, detail: String?, url: String? = nil,
        _ update: @escaping @Sendable (inout GitOpsChangeRecord) -> Void = { _ in }
    ) async throws -> GitOpsChangeRecord? {
        let at = now()
        let hubNow = clock.now
        let moved = try await store.updateGitOpsChange(id: change.id) { record in
            record.stage = stage
            record.stageStartedAt = at
            record.attempts = 0
            record.nextAttemptAt = at
            record.lastError = nil
            record.updatedAt = at
            update(&record)
        }
        try await store.updateOperation(id: change.operationId) { $0.addStage(stage.rawValue, namespace: change.namespace, detail: detail, url: url, at: hubNow) }
        metrics.recordGitOpsStage(stage.rawValue, seconds: at.timeIntervalSince(change.stageStartedAt))
        logger.info("GitOps stage", metadata: [
            "operation": "\(change.operationId)", "namespace": "\(change.namespace)", "stage": "\(stage.rawValue)", "detail": "\(detail ?? "")",
        ])
        return moved
    }

    /// Looks again after a backoff that grows with the attempts (0.2 s doubling, at most 5 s).
    func retryLater(_ change: GitOpsChangeRecord, because reason: String?) async {
        let delay = min(0.2 * pow(2, Double(min(change.attempts, 10))), 5)
        await wait(change, seconds: delay, because: reason)
    }

    func wait(_ change: GitOpsChangeRecord, seconds: Double, because reason: String?) async {
        let at = now().addingTimeInterval(seconds)
        _ = try? await store.updateGitOpsChange(id: change.id) { record in
            record.attempts += 1
            record.nextAttemptAt = at
            if let reason { record.lastError = reason }
        }
    }

    /// Between two reads of a merge request waiting for approval: polling without a webhook,
    /// ten times slower with one (in case an event is lost).
    var approvalPollInterval: Double {
        settings.gitlab.pollInterval.inSeconds * (settings.gitlab.webhookSecret == nil ? 1 : 10)
    }

    func timeout(of change: GitOpsChangeRecord) -> Duration {
        switch change.stage {
        case .requested: settings.timeouts.mergeRequest
        case .mergeRequestOpened: settings.timeouts.merge
        case .awaitingApproval: settings.timeouts.approval
        case .merged: settings.timeouts.sync
        case .synced, .done: settings.timeouts.apply
        }
    }

    func stageText(_ stage: GitOpsChangeRecord.Stage) -> String {
        switch stage {
        case .requested: "opening the merge request"
        case .mergeRequestOpened: "merging"
        case .awaitingApproval: "waiting for approval"
        case .merged: "syncing with Argo CD"
        case .synced, .done: "waiting for the agent"
        }
    }

    private func timeoutText(_ change: GitOpsChangeRecord, after limit: Duration) -> String {
        let reference = change.mergeRequestIID.map { "!\($0)" } ?? "the merge request"
        let after = DurationText.format(limit)
        return switch change.stage {
        case .requested: "stage mr_opened: opening \(reference) timed out after \(after)"
        case .mergeRequestOpened: "stage merged: GitLab did not merge \(reference) within \(after)"
        case .awaitingApproval: "stage merged: \(reference) was not approved within \(after)"
        case .merged: "stage synced: Argo CD did not sync application \(change.application) within \(after)"
        case .synced, .done: "stage done: the agent did not see the change in the cluster within \(after)"
        }
    }

    /// Sandman's branches for a namespace start with this; one per request.
    static func branchPrefix(cluster: String, namespace: String) -> String {
        "sandman/\(cluster)/\(namespace)/"
    }
}
