import ArgoSim
import Foundation
import GitLabSim
import JSON
import Kube
import TestSupport
import Testing
import Transport

/// ArgoSim's API and controller. Sources: argoproj/argo-cd `server/application/application.go`
/// (Sync: "Cannot sync to %s: auto-sync currently set to %s"; getAppEnforceRBAC: 403 "permission
/// denied" for a missing app unless a project is given, then 404), `util/argo/argo.go`
/// (`ErrAnotherOperationInProgress`, FailedPrecondition → HTTP 400 through grpc-gateway v1, whose error
/// body is `{"error", "code", "message"}`), `server/server.go` ("no session information"),
/// `util/session/sessionmanager.go` ("Invalid username or password"), `controller/appcontroller.go`
/// (`autoSync`: new revisions sync, drift at the synced revision only with selfHeal after the
/// self-heal timeout), and the sync options docs (`RespectIgnoreDifferences=true`).
@Suite("ArgoSim", .awaitingCleanup)
struct ArgoSimTests {
    @Test func sessionsAndErrors() async throws {
        let harness = try await GitOpsHarness.start()
        defer { afterTest { await harness.stop() } }
        let login = try await harness.request(.post, "/api/v1/session", token: nil, body: ["username": "admin", "password": "password"])
        #expect(login.status == 200)
        let token = try #require(login.body["token"]?.string)
        #expect(try await harness.request(.get, "/api/v1/session/userinfo", token: token).body["username"] == "admin")

        let wrong = try await harness.request(.post, "/api/v1/session", token: nil, body: ["username": "admin", "password": "nope"])
        #expect(wrong.status == 401)
        #expect(wrong.body == ["error": "Invalid username or password", "code": 16, "message": "Invalid username or password"])
        let anonymous = try await harness.request(.get, "/api/v1/applications", token: nil)
        #expect(anonymous.status == 401)
        #expect(anonymous.body == ["error": "no session information", "code": 16, "message": "no session information"])
        #expect(try await harness.request(.get, "/api/v1/applications", token: "forged").status == 401)

        let missing = try await harness.request(.get, "/api/v1/applications/ghost")
        #expect(missing.status == 403)
        #expect(missing.body == ["error": "permission denied", "code": 7, "message": "permission denied"])
        let missingInProject = try await harness.request(.get, "/api/v1/applications/ghost?project=default")
        #expect(missingInProject.status == 404)
        #expect(missingInProject.body["message"] == "applications.argoproj.io \"ghost\" not found")
        #expect(try await harness.request(.get, "/api/v1/applications").body["items"] == [])
    }

    @Test func createListPatchAndPermissions() async throws {
        let harness = try await GitOpsHarness.start()
        defer { afterTest { await harness.stop() } }
        let app = GitOpsHarness.application(syncPolicy: .emptyObject)
        let created = try await harness.request(.post, "/api/v1/applications", body: app)
        #expect(created.status == 200)
        #expect(created.body[path: ["spec", "project"]] == "default")
        // Same spec again is fine; a different one needs upsert (InvalidArgument → 400).
        #expect(try await harness.request(.post, "/api/v1/applications", body: app).status == 200)
        var changed = app
        changed[path: ["spec", "source", "path"]] = "apps/other"
        let conflict = try await harness.request(.post, "/api/v1/applications", body: changed)
        #expect(conflict.status == 400)
        #expect(conflict.body["message"] == "existing application spec is different, use upsert flag to force update")
        var invalid = app
        invalid[path: ["spec", "destination"]] = ["namespace": "payments"]
        invalid[path: ["metadata", "name"]] = "broken"
        #expect(try await harness.request(.post, "/api/v1/applications", body: invalid).status == 400)

        let list = try await harness.request(.get, "/api/v1/applications")
        #expect(list.body["items"]?.array?.compactMap { $0[path: ["metadata", "name"]]?.string } == ["staging-payments"])

        let patched = try await harness.request(.patch, "/api/v1/applications/staging-payments", body: [
            "name": "staging-payments", "patchType": "merge",
            "patch": #"{"spec":{"syncPolicy":{"automated":{"selfHeal":false}}}}"#,
        ])
        #expect(patched.status == 200)
        #expect(patched.body[path: ["spec", "syncPolicy", "automated", "selfHeal"]] == false)
        let unsupported = try await harness.request(.patch, "/api/v1/applications/staging-payments", body: ["patch": "{}", "patchType": "strategic"])
        #expect(unsupported.body["message"] == "Patch type 'strategic' is not supported")

        let denied = try await harness.request(.post, "/api/v1/applications/staging-payments/sync", token: "viewer-token", body: .emptyObject)
        #expect(denied.status == 403)
        #expect(denied.body["message"] == "permission denied: applications, sync, default/staging-payments, sub: viewer")
        #expect(try await harness.request(.get, "/api/v1/applications/staging-payments", token: "viewer-token").status == 200)
    }

    @Test func autoSyncAppliesWithServerSideApplyAndTracks() async throws {
        let harness = try await GitOpsHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application())
        #expect(try await harness.waitSynced())
        let live = try await harness.kube.get(.deployment, namespace: "payments", name: "api")
        #expect(live[path: ["spec", "replicas"]] == 3)
        #expect(live[path: ["metadata", "labels", "app.kubernetes.io/instance"]] == "staging-payments")
        let managers = live[path: ["metadata", "managedFields"]]?.array?.map { "\($0["manager"]?.string ?? "") \($0["operation"]?.string ?? "")" } ?? []
        #expect(managers.contains("argocd-controller Apply"))

        let application = try await harness.request(.get, "/api/v1/applications/staging-payments?refresh=normal").body
        let status = try #require(application["status"])
        #expect(status[path: ["operationState", "phase"]] == "Succeeded")
        #expect(status[path: ["operationState", "message"]] == "successfully synced (all tasks run)")
        #expect(status[path: ["operationState", "operation", "initiatedBy", "automated"]] == true)
        #expect(status["resources"] == [[
            "group": "apps", "version": "v1", "kind": "Deployment", "namespace": "payments", "name": "api",
            "status": "Synced", "health": ["status": "Healthy"],
        ]])
        #expect(status["history"]?.array?.count == 1)
        // ArgoSim read git through the GitLab API, with its read_api token.
        #expect(harness.gitlab.requests.contains { $0.user == "argocd" && $0.route == "GET /projects/:id/repository/files/:file_path/raw" })
        #expect(harness.gitlab.requests.allSatisfy { $0.method == "GET" })
    }

    @Test func selfHealRevertsAScaleDownUnlessReplicasAreIgnored() async throws {
        let harness = try await GitOpsHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application())
        #expect(try await harness.waitSynced())

        // kube-green's conflict: the sleep scales to 0, self-heal scales back to what git says.
        try await harness.scale(0)
        let drifted = await harness.argocd.refresh("staging-payments")?["status"]
        #expect(drifted?[path: ["sync", "status"]] == "OutOfSync")
        #expect(try await eventually { try await harness.replicas() == 3 })
        let heal = try #require(await harness.status()[path: ["operationState"]])
        #expect(heal[path: ["operation", "initiatedBy", "automated"]] == true)
        #expect(heal[path: ["operation", "sync", "resources"]] == [["group": "apps", "kind": "Deployment", "name": "api", "namespace": "payments"]])

        // ignoreDifferences on /spec/replicas plus RespectIgnoreDifferences=true: the sleep stays.
        var app = GitOpsHarness.application(
            syncPolicy: ["automated": ["prune": true, "selfHeal": true], "syncOptions": ["RespectIgnoreDifferences=true"]],
            extra: ["ignoreDifferences": [["group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]]]]
        )
        app[path: ["metadata", "name"]] = "staging-payments"
        try await harness.argocd.createApplication(app)
        try await harness.scale(0)
        #expect(await harness.argocd.refresh("staging-payments")?[path: ["status", "sync", "status"]] == "Synced")
        // A new commit is synced (image changes) and the ignored replicas are kept at 0.
        try await harness.gitlab.commit(project: "platform/deploy", branch: "main", message: "new image",
                                        files: ["apps/payments/deployment.yaml": GitOpsHarness.deployment.replacingOccurrences(of: "api:1", with: "api:2")])
        // Not waiting for Healthy: KubeSim only updates a Deployment's status.observedGeneration when
        // its replicas change, so after an image change at 0 replicas the rollout never looks finished.
        #expect(try await harness.waitSynced(healthy: false))
        let live = try await harness.kube.get(.deployment, namespace: "payments", name: "api")
        #expect(live[path: ["spec", "template", "spec", "containers"]]?.array?.first?["image"] == "registry.example.com/api:2")
        #expect(live[path: ["spec", "replicas"]] == 0)
    }

    @Test func driftIsNoticedWithoutARefresh() async throws {
        // Argo CD watches what it manages: no refresh and no repository poll is needed to self-heal.
        let harness = try await GitOpsHarness.start { $0.liveCheckInterval = .milliseconds(100) }
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application())
        #expect(try await harness.waitSynced())
        let polls = harness.gitlab.requests.count
        try await harness.scale(0)
        #expect(try await eventually { try await harness.replicas() == 3 })
        #expect(await harness.status()[path: ["operationState", "operation", "initiatedBy", "automated"]] == true)
        // The drift was compared with the manifests already read; git is read for the sync itself.
        #expect(harness.gitlab.requests.count > polls)
    }

    @Test func ignoreDifferencesWithoutRespectIsUndoneByTheNextSync() async throws {
        let harness = try await GitOpsHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application(extra: [
            "ignoreDifferences": [["group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]]],
        ]))
        #expect(try await harness.waitSynced())
        try await harness.scale(0)
        // The difference is ignored: Synced, nothing to heal.
        #expect(await harness.argocd.refresh("staging-payments")?[path: ["status", "sync", "status"]] == "Synced")
        #expect(try await harness.replicas() == 0)
        // But any sync applies the manifest whole: the next revision brings the replicas back.
        try await harness.gitlab.commit(project: "platform/deploy", branch: "main", message: "label",
                                        files: ["apps/payments/deployment.yaml": GitOpsHarness.deployment.replacingOccurrences(of: "labels: {app: api}}", with: "labels: {app: api, tier: web}}")])
        #expect(try await harness.waitSynced())
        #expect(try await harness.replicas() == 3)
    }

    @Test func withoutSelfHealDriftStaysOutOfSync() async throws {
        // No self-heal wait at all: the only thing that keeps the drift is selfHeal: false.
        let harness = try await GitOpsHarness.start { $0.selfHealTimeout = .zero }
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application(syncPolicy: ["automated": ["prune": false, "selfHeal": false]]))
        #expect(try await harness.waitSynced())
        try await harness.scale(0)
        #expect(await harness.argocd.refresh("staging-payments")?[path: ["status", "sync", "status"]] == "OutOfSync")
        // Comparing again (which is when auto-sync decides) starts no operation: the drift stays.
        let before = await harness.status()[path: ["history"]]?.array?.count
        let again = try #require(await harness.argocd.refresh("staging-payments"))
        #expect(again[path: ["status", "sync", "status"]] == "OutOfSync")
        #expect(again["operation"] == nil)
        #expect(try await harness.replicas() == 0)
        #expect(again[path: ["status", "history"]]?.array?.count == before)
    }

    @Test func manualSyncRules() async throws {
        let harness = try await GitOpsHarness.start { $0.syncDelay = .seconds(3) }  // the second request must come while the first runs
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application(syncPolicy: .emptyObject))
        let started = try await harness.request(.post, "/api/v1/applications/staging-payments/sync", body: ["prune": true])
        #expect(started.status == 200)
        #expect(started.body[path: ["operation", "sync", "prune"]] == true)
        #expect(started.body[path: ["operation", "initiatedBy", "username"]] == "admin")
        let again = try await harness.request(.post, "/api/v1/applications/staging-payments/sync", body: .emptyObject)
        #expect(again.status == 400)
        #expect(again.body == ["error": "another operation is already in progress", "code": 9, "message": "another operation is already in progress"])
        #expect(try await eventually { await harness.status()[path: ["operationState", "phase"]] == "Succeeded" })
        #expect(try await harness.replicas() == 3)

        // A revision other than the target revision is refused for auto-synced apps.
        _ = try await harness.request(.patch, "/api/v1/applications/staging-payments", body: ["patch": #"{"spec":{"syncPolicy":{"automated":{"selfHeal":true}}}}"#])
        let pinned = try await harness.request(.post, "/api/v1/applications/staging-payments/sync", body: ["revision": "abc123"])
        #expect(pinned.status == 400)
        #expect(pinned.body["message"] == "Cannot sync to abc123: auto-sync currently set to main")
        let terminate = try await harness.request(.delete, "/api/v1/applications/staging-payments/operation")
        #expect(terminate.body["message"] == "Unable to terminate operation. No operation is in progress")
    }

    @Test func pollingPicksUpCommitsAndPrunes() async throws {
        let harness = try await GitOpsHarness.start(files: [
            "apps/payments/deployment.yaml": GitOpsHarness.deployment,
            "apps/payments/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: staging}\n",
        ]) { $0.reconciliationInterval = .milliseconds(200) }
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application())
        #expect(try await eventually { (try? await harness.kube.get(.configMap, namespace: "payments", name: "settings")) != nil })
        // No refresh asked: the repository poll notices the commit, auto-sync prunes the deleted file's object.
        try await harness.gitlab.commit(project: "platform/deploy", branch: "main", message: "drop settings", files: ["apps/payments/config.yaml": nil])
        #expect(try await eventually {
            do {
                _ = try await harness.kube.get(.configMap, namespace: "payments", name: "settings")
                return false
            } catch let error as KubeError {
                return error.reason == .notFound
            }
        })
        // The operation records the prune once it has finished.
        #expect(try await eventually {
            let result = await harness.status()[path: ["operationState", "syncResult", "resources"]]?.array ?? []
            return result.contains { $0["kind"] == "ConfigMap" && $0["status"] == "Pruned" }
        })
    }

    @Test func aFailedSyncIsNotRepeatedAtTheSameRevision() async throws {
        let badName = GitOpsHarness.deployment.replacingOccurrences(of: "name: api,", with: "name: Bad_Name,")
        let harness = try await GitOpsHarness.start(files: ["apps/payments/deployment.yaml": badName])
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application())
        #expect(try await eventually { await harness.status()[path: ["operationState", "phase"]] == "Failed" })
        let failed = try #require(await harness.status()["operationState"])
        #expect(failed["message"]?.string?.hasPrefix("one or more objects failed to apply") == true)
        #expect(failed[path: ["syncResult", "resources"]]?.array?.first?["status"] == "SyncFailed")
        // Comparing again finds the app still OutOfSync, and auto-sync does not try the same revision again.
        let application = try #require(await harness.argocd.refresh("staging-payments"))
        #expect(application[path: ["status", "sync", "status"]] == "OutOfSync")
        #expect(application["operation"] == nil)
        #expect(application[path: ["status", "operationState", "startedAt"]] == failed["startedAt"])
    }

    @Test func annotationTracking() async throws {
        let harness = try await GitOpsHarness.start { $0.trackingMethod = .annotation }
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application())
        #expect(try await harness.waitSynced())
        let live = try await harness.kube.get(.deployment, namespace: "payments", name: "api")
        #expect(live[path: ["metadata", "annotations", "argocd.argoproj.io/tracking-id"]] == "staging-payments:apps/Deployment:payments/api")
        #expect(live[path: ["metadata", "labels", "app.kubernetes.io/instance"]] == nil)
    }

    @Test func gitProblemsAreComparisonErrors() async throws {
        let harness = try await GitOpsHarness.start()
        defer { afterTest { await harness.stop() } }
        var app = GitOpsHarness.application()
        app[path: ["spec", "source", "repoURL"]] = "http://gitlab.example.com/platform/missing.git"
        try await harness.argocd.createApplication(app)
        let status = await harness.argocd.refresh("staging-payments")?["status"]
        #expect(status?[path: ["sync", "status"]] == "Unknown")
        #expect(status?["conditions"]?.array?.first?["type"] == "ComparisonError")
        #expect(status?["conditions"]?.array?.first?["message"]?.string?.contains("404 Project Not Found") == true)
    }
}
