import Foundation
import GitOps
import Store

/// Override annotations stay in git after their override ends; one merge request at a time per
/// repository removes those that are over. Namespaces asleep are left for later: a commit to
/// their Application makes an automated Argo CD sync put their replicas back.
extension GitOpsCoordinator {
    static let cleanupPrefix = "sandman/cleanup/"

    func cleanupLoop() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: settings.cleanupInterval)
            } catch {
                return
            }
            await cleanUp()
        }
    }

    /// One look: Sandman's open cleanup merge request is merged when it can be; without one, a
    /// new one is opened for the expired annotations found.
    func cleanUp() async {
        guard unavailableReason == nil else { return }
        let target = settings.gitlab.targetBranch
        do {
            let open = try await gitlab.openMergeRequests(labels: settings.gitlab.labels).filter { $0.sourceBranch.hasPrefix(Self.cleanupPrefix) }
            if let pending = open.first {
                if !pending.autoMerge { try await mergeCleanup(pending) }
                return
            }
            var actions: [GitLabClient.Action] = []
            var cleaned: [String] = []
            for (path, namespaces) in await expiredAnnotations() {
                guard let file = try await gitlab.file(path, ref: target) else { continue }
                let removed = Self.removingAnnotations(of: namespaces.map(\.namespace), from: String(decoding: file.content, as: UTF8.self))
                guard !removed.namespaces.isEmpty else { continue }
                actions.append(.init(update: path, content: removed.text, lastCommitID: file.lastCommitID))
                cleaned += removed.namespaces.map { "\(namespaces[0].cluster)/\($0)" }
            }
            guard !actions.isEmpty else { return }
            let branch = Self.cleanupPrefix + String(UUID().uuidString.lowercased().prefix(8))
            let list = cleaned.sorted().map { "- \($0)" }.joined(separator: "\n")
            _ = try await gitlab.commit(branch: branch, startBranch: target, message: "Sandman: remove expired override annotations\n\n\(list)\n", actions: actions)
            let request = try await gitlab.createMergeRequest(
                sourceBranch: branch, targetBranch: target, title: "Sandman: remove expired override annotations",
                description: "These overrides are over; their `\(Self.annotationKey)` annotations are removed:\n\n\(list)\n", labels: settings.gitlab.labels
            )
            logger.info("cleanup merge request opened", metadata: ["mergeRequest": "\(request.reference)", "namespaces": "\(cleaned.count)"])
            try await mergeCleanup(request)
        } catch {
            logger.warning("cleanup of expired override annotations failed", metadata: ["error": "\(error)"])
        }
    }

    /// A manifest without the annotation of these namespaces' SleepInfos, and those it was removed from.
    static func removingAnnotations(of namespaces: [String], from original: String) -> (text: String, namespaces: [String]) {
        var text = original
        var removed: [String] = []
        for namespace in namespaces {
            guard let edit = try? SleepInfoManifest.setting(annotationKey, to: nil, in: text, namespace: namespace), edit.changed else { continue }
            text = edit.text
            removed.append(namespace)
        }
        return (text, removed)
    }

    /// Merges (or sets auto-merge on) a cleanup merge request, trying again for a few seconds
    /// while GitLab is still checking it; the next look tries again after that.
    private func mergeCleanup(_ request: GitLabClient.MergeRequest) async throws {
        for attempt in 0..<8 {
            do {
                _ = try await gitlab.merge(request.iid, sha: request.sha, autoMerge: true)
                return
            } catch {
                guard error.reason == .notAllowed else { throw error }
            }
            try await Task.sleep(for: .milliseconds(Int64(min(250 * (1 << attempt), 2000))))
        }
    }

    /// Per manifest path, the namespaces whose annotation is over: its time is up, or it names an
    /// override that has ended or a request that failed. Annotations the hub does not know yet
    /// (written by hand, to be taken in) and namespaces with a request under way are left alone.
    func expiredAnnotations() async -> [String: [(cluster: String, namespace: String)]] {
        var expired: [String: [(cluster: String, namespace: String)]] = [:]
        let owned = await ownedClusters()
        for (cluster, agent) in agents where owned.contains(cluster) {
            for found in await agent.gitopsAnnotations() where !found.asleep {
                guard await isOver(found.text, cluster: cluster, namespace: found.namespace) else { continue }
                let path = NameTemplate(settings.gitlab.pathTemplate).render(cluster: cluster, namespace: found.namespace)
                expired[path, default: []].append((cluster, found.namespace))
            }
        }
        return expired
    }

    /// Whether an annotation is over: its time is up, or it names an override that has ended or a
    /// request that failed; never while a request for the namespace is under way.
    private func isOver(_ text: String, cluster: String, namespace: String) async -> Bool {
        guard let annotation = try? OverrideAnnotation(parsing: text) else { return false }
        let changes = (try? await store.gitopsChanges(cluster: cluster, namespace: namespace)) ?? []
        if changes.contains(where: { $0.state == .open }) { return false }
        if let until = annotation.until, until <= clock.now { return true }
        guard let id = annotation.id else { return false }
        if let known = try? await store.override(id: id) { return known.clearedAt != nil }
        return changes.contains { $0.overrideId == id && $0.state.isTerminal }
    }
}
