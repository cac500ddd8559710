import Foundation
import JSON
import KubeSim
import TestSupport
import Testing
import Transport

@Suite("KubeSim API semantics", .awaitingCleanup)
struct KubeSimAPITests {
    @Test func createGetAndAlreadyExists() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let created = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment("web"))
        #expect(created.status == 201)
        #expect(created.body[path: ["metadata", "uid"]]?.string?.count == 36)
        #expect(created.body[path: ["metadata", "generation"]] == 1)
        #expect(created.body[path: ["metadata", "creationTimestamp"]]?.string?.hasSuffix("Z") == true)
        #expect(created.body[path: ["metadata", "managedFields"]]?.array?.first?["manager"] == "sandman")

        let again = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment("web"))
        #expect(again.status == 409)
        #expect(again.body["reason"] == "AlreadyExists")
        #expect(again.body["message"] == "deployments.apps \"web\" already exists")

        let missing = try await harness.request(.get, "/apis/apps/v1/namespaces/default/deployments/nope")
        #expect(missing.status == 404)
        #expect(missing.body["kind"] == "Status")
        #expect(missing.body["reason"] == "NotFound")
        #expect(missing.body[path: ["details", "group"]] == "apps")

        let noNamespace = try await harness.request(.post, "/apis/apps/v1/namespaces/ghost/deployments", body: SimHarness.deployment("web", namespace: "ghost"))
        #expect(noNamespace.status == 404)
        #expect(noNamespace.body["message"] == "namespaces \"ghost\" not found")

        let unknown = try await harness.request(.get, "/apis/nothing.example/v1/things")
        #expect(unknown.status == 404)
        #expect(unknown.body["kind"] == "Status")
    }

    @Test func generateNameAndInvalidNames() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let generated = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["generateName": "cache-"], "data": ["a": "1"]])
        #expect(generated.status == 201)
        let name = try #require(generated.body[path: ["metadata", "name"]]?.string)
        #expect(name.hasPrefix("cache-") && name.count == 11)

        let invalid = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "Bad_Name"]])
        #expect(invalid.status == 422)
        #expect(invalid.body["reason"] == "Invalid")
        #expect(invalid.body[path: ["details", "causes"]]?.array?.first?["field"] == "metadata.name")
    }

    @Test func staleUpdateConflicts() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let created = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment("web")).body
        var first = created
        first[path: ["spec", "replicas"]] = 5
        let updated = try await harness.request(.put, "/apis/apps/v1/namespaces/default/deployments/web", body: first)
        #expect(updated.status == 200)
        #expect(updated.body[path: ["metadata", "generation"]] == 2)
        #expect(updated.body[path: ["metadata", "resourceVersion"]] != created[path: ["metadata", "resourceVersion"]])

        var stale = created
        stale[path: ["spec", "replicas"]] = 9
        let conflict = try await harness.request(.put, "/apis/apps/v1/namespaces/default/deployments/web", body: stale)
        #expect(conflict.status == 409)
        #expect(conflict.body["reason"] == "Conflict")
        #expect((conflict.body["message"]?.string ?? "").contains("the object has been modified"))

        // A label-only change keeps the generation; status follows spec.
        var relabelled = updated.body
        relabelled[path: ["metadata", "labels", "team"]] = "web"
        let metadataOnly = try await harness.request(.put, "/apis/apps/v1/namespaces/default/deployments/web", body: relabelled)
        #expect(metadataOnly.body[path: ["metadata", "generation"]] == 2)
        #expect(metadataOnly.body[path: ["status", "readyReplicas"]] == 5)
    }

    @Test func resourceVersionsIncreaseOnEveryWrite() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        var versions: [Int64] = []
        for index in 0..<5 {
            let reply = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": .string("c\(index)")]])
            versions.append(Int64(reply.body[path: ["metadata", "resourceVersion"]]?.string ?? "") ?? -1)
        }
        #expect(versions == versions.sorted())
        #expect(Set(versions).count == 5)
        let list = try await harness.request(.get, "/api/v1/namespaces/default/configmaps")
        let listVersion = Int64(list.body[path: ["metadata", "resourceVersion"]]?.string ?? "") ?? 0
        #expect(listVersion >= versions.last!)
        // Built-in list items carry no kind, as kube-apiserver's do.
        #expect(list.body["items"]?.array?.first?["kind"] == nil)
        #expect(list.body["kind"] == "ConfigMapList")
    }

    @Test func pagingTwoThousandObjectsWithLimitOneHundred() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let manifests = (0..<2000).map { index in
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: item-\(String(format: "%04d", index))\n  namespace: bulk\ndata:\n  index: \"\(index)\"\n"
        }.joined(separator: "---\n")
        try await harness.sim.load(manifests: manifests)

        var names: [String] = []
        var token: String?
        var pages = 0
        var remaining: [Int64] = []
        repeat {
            let query = "limit=100" + (token.map { "&continue=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? "")
            let page = try await harness.request(.get, "/api/v1/namespaces/bulk/configmaps?\(query)")
            #expect(page.status == 200)
            let items = page.body["items"]?.array ?? []
            #expect(items.count == 100)
            names += items.compactMap { $0[path: ["metadata", "name"]]?.string }
            token = page.body[path: ["metadata", "continue"]]?.string
            if let count = page.body[path: ["metadata", "remainingItemCount"]]?.int { remaining.append(count) }
            pages += 1
        } while token != nil && pages < 50
        #expect(pages == 20)
        #expect(names.count == 2000)
        #expect(Set(names).count == 2000)
        #expect(names == names.sorted())
        #expect(remaining.first == 1900)
        #expect(remaining.last == 100)
    }

    @Test func expiredContinueTokenIsGone() async throws {
        let harness = try await SimHarness.start { $0.continueTokenLifetime = .seconds(3) }
        defer { afterTest { await harness.stop() } }
        for index in 0..<5 {
            _ = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": .string("c\(index)")]])
        }
        let first = try await harness.request(.get, "/api/v1/namespaces/default/configmaps?limit=2")
        let token = try #require(first.body[path: ["metadata", "continue"]]?.string)
        let encoded = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        #expect(try await harness.request(.get, "/api/v1/namespaces/default/configmaps?limit=2&continue=\(encoded)").status == 200)

        try await Task.sleep(for: .milliseconds(3500))
        let expired = try await harness.request(.get, "/api/v1/namespaces/default/configmaps?limit=2&continue=\(encoded)")
        #expect(expired.status == 410)
        #expect(expired.body["reason"] == "Expired")

        let compactedFirst = try await harness.request(.get, "/api/v1/namespaces/default/configmaps?limit=2")
        let fresh = try #require(compactedFirst.body[path: ["metadata", "continue"]]?.string).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        _ = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "later"]])
        await harness.sim.compactHistory()
        #expect(try await harness.request(.get, "/api/v1/namespaces/default/configmaps?limit=2&continue=\(fresh)").status == 410)

        let garbage = try await harness.request(.get, "/api/v1/namespaces/default/configmaps?limit=2&continue=not-a-token")
        #expect(garbage.status == 400)
    }

    @Test func labelAndFieldSelectors() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let fixtures: [(String, [String: String])] = [
            ("api", ["tier": "back", "env": "prod"]), ("web", ["tier": "front", "env": "prod"]),
            ("batch", ["tier": "back", "env": "dev"]), ("plain", [:]),
        ]
        for (name, labels) in fixtures {
            _ = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment(name, labels: labels))
        }
        _ = try await harness.request(.post, "/api/v1/namespaces", body: ["metadata": ["name": "other"]])
        _ = try await harness.request(.post, "/apis/apps/v1/namespaces/other/deployments", body: SimHarness.deployment("api", namespace: "other", labels: ["tier": "back"]))

        func names(_ query: String, namespace: String? = "default") async throws -> [String] {
            let base = namespace.map { "/apis/apps/v1/namespaces/\($0)/deployments" } ?? "/apis/apps/v1/deployments"
            let reply = try await harness.request(.get, "\(base)?\(query)")
            #expect(reply.status == 200, "\(query): \(reply.body)")
            return (reply.body["items"]?.array ?? []).compactMap { $0[path: ["metadata", "name"]]?.string }
        }
        let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
        #expect(try await names("labelSelector=\(encode("tier=back"))") == ["api", "batch"])
        #expect(try await names("labelSelector=\(encode("tier==back,env=prod"))") == ["api"])
        #expect(try await names("labelSelector=\(encode("tier!=back"))") == ["plain", "web"])
        #expect(try await names("labelSelector=\(encode("env in (dev, prod)"))") == ["api", "batch", "web"])
        #expect(try await names("labelSelector=\(encode("env notin (prod)"))") == ["batch", "plain"])
        #expect(try await names("labelSelector=tier") == ["api", "batch", "web"])
        #expect(try await names("labelSelector=\(encode("!tier"))") == ["plain"])
        #expect(try await names("fieldSelector=\(encode("metadata.name=api"))", namespace: nil) == ["api", "api"])
        #expect(try await names("fieldSelector=\(encode("metadata.name=api,metadata.namespace!=default"))", namespace: nil).count == 1)
        #expect(try await names("fieldSelector=\(encode("metadata.namespace=other"))", namespace: nil) == ["api"])

        let badField = try await harness.request(.get, "/apis/apps/v1/deployments?fieldSelector=spec.replicas%3D2")
        #expect(badField.status == 400)
        #expect((badField.body["message"]?.string ?? "").contains("\"spec.replicas\" is not a known field selector"))
        let badLabel = try await harness.request(.get, "/apis/apps/v1/deployments?labelSelector=\(encode("tier in back"))")
        #expect(badLabel.status == 400)
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        // One token every 20 s: however slow the machine, the fourth request finds the bucket empty.
        harness.sim.setFaults(.init(rateLimit: .init(qps: 0.05, burst: 3, retryAfterSeconds: 2)))
        var statuses: [Int] = []
        var retryAfter: [String] = []
        for _ in 0..<6 {
            let reply = try await harness.request(.get, "/api/v1/namespaces/default/configmaps")
            statuses.append(reply.status)
            if reply.status == 429 {
                retryAfter.append(reply.headers["Retry-After"] ?? "")
                #expect(reply.body["reason"] == "TooManyRequests")
            }
        }
        #expect(statuses.prefix(3).allSatisfy { $0 == 200 })
        #expect(statuses.filter { $0 == 429 }.count >= 2)
        #expect(retryAfter.allSatisfy { $0 == "2" })
        // Health checks are not throttled.
        let health = try await harness.client.send(HTTPRequest(url: harness.sim.url + "/readyz"))
        #expect(health.status == 200)
        harness.sim.setFaults(.init())
        #expect(try await harness.request(.get, "/api/v1/namespaces/default/configmaps").status == 200)
    }

    @Test func injectedErrorsAndLatency() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        harness.sim.setFaults(.init(errorRate: 1))
        let failing = try await harness.request(.get, "/api/v1/namespaces")
        #expect(failing.status == 500)
        #expect(failing.body["reason"] == "InternalError")

        harness.sim.setFaults(.init(latency: .milliseconds(200)))
        let start = ContinuousClock.now
        #expect(try await harness.request(.get, "/api/v1/namespaces").status == 200)
        #expect(ContinuousClock.now - start >= .milliseconds(200))

        harness.sim.setFaults(.init(dropRate: 1))
        await #expect(throws: TransportError.self) { try await harness.request(.get, "/api/v1/namespaces") }
        harness.sim.setFaults(.init())
        #expect((harness.sim.requestCounts["list namespaces"] ?? 0) >= 3)
    }

    @Test func authenticationAndAuthorization() async throws {
        let harness = try await SimHarness.start {
            $0.tokens = ["good-token": "robot"]
            $0.passwords = ["alice": "wonderland"]
            $0.readOnlyUsers = ["robot"]
        }
        defer { afterTest { await harness.stop() } }
        let anonymous = HTTPClient(configuration: .init(tls: .init(trustRoots: Data(harness.sim.certificateAuthority.certificatePEM.utf8))))
        let denied = try await anonymous.send(HTTPRequest(url: harness.sim.url + "/api/v1/namespaces"))
        #expect(denied.status == 401)
        #expect(try JSONValue(parsing: denied.body)["reason"] == "Unauthorized")
        #expect(try await anonymous.send(HTTPRequest(url: harness.sim.url + "/version")).status == 200)

        let wrongToken = try await anonymous.send(HTTPRequest(url: harness.sim.url + "/api/v1/namespaces", headers: ["Authorization": "Bearer nope"]))
        #expect(wrongToken.status == 401)
        let token = try await anonymous.send(HTTPRequest(url: harness.sim.url + "/api/v1/namespaces", headers: ["Authorization": "Bearer good-token"]))
        #expect(token.status == 200)
        let write = try await anonymous.send(HTTPRequest(method: .post, url: harness.sim.url + "/api/v1/namespaces", headers: ["Authorization": "Bearer good-token", "Content-Type": "application/json"], body: Data(#"{"metadata":{"name":"x"}}"#.utf8)))
        #expect(write.status == 403)
        #expect(try JSONValue(parsing: write.body)["message"] == "namespaces is forbidden: User \"robot\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope")

        let basic = "Basic " + Data("alice:wonderland".utf8).base64EncodedString()
        #expect(try await anonymous.send(HTTPRequest(url: harness.sim.url + "/api/v1/namespaces", headers: ["Authorization": basic])).status == 200)
        let badPassword = "Basic " + Data("alice:nope".utf8).base64EncodedString()
        #expect(try await anonymous.send(HTTPRequest(url: harness.sim.url + "/api/v1/namespaces", headers: ["Authorization": badPassword])).status == 401)

        #expect(harness.sim.requests.contains { $0.user == "robot" && $0.status == 403 })
    }

    @Test func patchFormatsOnBuiltInAndCustomKinds() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        _ = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment("web", replicas: 3))
        let path = "/apis/apps/v1/namespaces/default/deployments/web"

        let json = try await harness.request(.patch, path, body: [["op": "replace", "path": "/spec/replicas", "value": 0]], contentType: "application/json-patch+json")
        #expect(json.body[path: ["spec", "replicas"]] == 0)
        let merge = try await harness.request(.patch, path + "?fieldManager=sandman", body: ["metadata": ["annotations": ["a": "b"]]], contentType: "application/merge-patch+json")
        #expect(merge.body[path: ["metadata", "annotations", "a"]] == "b")
        let strategic = try await harness.request(.patch, path, body: ["spec": ["template": ["spec": ["containers": [["name": "sidecar", "image": "proxy:1"]]]]]], contentType: "application/strategic-merge-patch+json")
        #expect(strategic.body[path: ["spec", "template", "spec", "containers"]]?.array?.count == 2)
        let deleteSidecar = try await harness.request(.patch, path, body: ["spec": ["template": ["spec": ["containers": [["name": "sidecar", "$patch": "delete"]]]]]], contentType: "application/strategic-merge-patch+json")
        #expect(deleteSidecar.body[path: ["spec", "template", "spec", "containers"]]?.array?.map { $0["name"] } == ["app"])

        let failedTest = try await harness.request(.patch, path, body: [["op": "test", "path": "/spec/replicas", "value": 7]], contentType: "application/json-patch+json")
        #expect(failedTest.status == 422)
        let unknownType = try await harness.request(.patch, path, body: .emptyObject, contentType: "text/plain")
        #expect(unknownType.status == 415)

        let scale = try await harness.request(.patch, path + "/scale", body: ["spec": ["replicas": 4]], contentType: "application/merge-patch+json")
        #expect(scale.body["kind"] == "Scale")
        #expect(scale.body[path: ["spec", "replicas"]] == 4)
        #expect(scale.body[path: ["status", "selector"]] == "app=web")
        let scaleGet = try await harness.request(.get, path + "/scale")
        #expect(scaleGet.body[path: ["status", "replicas"]] == 4)
        var staleScale = scaleGet.body
        staleScale[path: ["metadata", "resourceVersion"]] = "1"
        #expect(try await harness.request(.put, path + "/scale", body: staleScale).status == 409)

        // Custom resources refuse strategic merge patches, as kube-apiserver does.
        let crd = try String(contentsOfFile: repositoryFile("deploy/crds/kube-green.com_sleepinfos.yaml"), encoding: .utf8)
        try await harness.sim.load(manifests: crd)
        _ = try await harness.request(.post, "/apis/kube-green.com/v1alpha1/namespaces/default/sleepinfos", body: ["metadata": ["name": "nights"], "spec": ["weekdays": "1-5", "sleepAt": "20:00"]])
        let crPatch = try await harness.request(.patch, "/apis/kube-green.com/v1alpha1/namespaces/default/sleepinfos/nights", body: ["spec": ["sleepAt": "21:00"]], contentType: "application/strategic-merge-patch+json")
        #expect(crPatch.status == 415)
        let statusPatch = try await harness.request(.patch, "/apis/kube-green.com/v1alpha1/namespaces/default/sleepinfos/nights/status", body: ["status": ["operation": "SLEEP"], "spec": ["sleepAt": "22:00"]], contentType: "application/merge-patch+json")
        #expect(statusPatch.body[path: ["status", "operation"]] == "SLEEP")
        #expect(statusPatch.body[path: ["spec", "sleepAt"]] == "20:00")
        #expect(statusPatch.body[path: ["metadata", "generation"]] == 1)
    }

    @Test func serverSideApplyOwnsFieldsAndReportsConflicts() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let path = "/apis/apps/v1/namespaces/default/deployments/web"
        let applied = try await harness.request(.patch, path + "?fieldManager=gitops", body: SimHarness.deployment("web", replicas: 3), contentType: "application/apply-patch+yaml")
        #expect(applied.status == 201 || applied.status == 200)
        #expect(applied.body[path: ["metadata", "managedFields"]]?.array?.first?["operation"] == "Apply")

        let sleep = try await harness.request(.patch, path + "?fieldManager=sandman", body: ["spec": ["replicas": 0]], contentType: "application/merge-patch+json")
        #expect(sleep.body[path: ["spec", "replicas"]] == 0)

        let conflict = try await harness.request(.patch, path + "?fieldManager=gitops", body: SimHarness.deployment("web", replicas: 3), contentType: "application/apply-patch+yaml")
        #expect(conflict.status == 409)
        #expect(conflict.body["message"] == "Apply failed with 1 conflict: conflict with \"sandman\" using apps/v1: .spec.replicas")

        let forced = try await harness.request(.patch, path + "?fieldManager=gitops&force=true", body: SimHarness.deployment("web", replicas: 3), contentType: "application/apply-patch+yaml")
        #expect(forced.status == 200)
        #expect(forced.body[path: ["spec", "replicas"]] == 3)

        let noManager = try await harness.request(.patch, path, body: SimHarness.deployment("web"), contentType: "application/apply-patch+yaml")
        #expect(noManager.status == 400)
    }

    @Test func finalizersNamespaceDeletionAndGarbageCollection() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        _ = try await harness.request(.post, "/api/v1/namespaces", body: ["metadata": ["name": "team"]])
        let owner = try await harness.request(.post, "/apis/apps/v1/namespaces/team/deployments", body: SimHarness.deployment("web", namespace: "team")).body
        let ownerUID = try #require(owner[path: ["metadata", "uid"]])
        var replicaSet: JSONValue = ["metadata": ["name": "web-1", "ownerReferences": [["apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": ownerUID, "controller": true]]], "spec": ["replicas": 2, "selector": ["matchLabels": ["app": "web"]], "template": SimHarness.podTemplate(app: "web")]]
        replicaSet["apiVersion"] = "apps/v1"
        #expect(try await harness.request(.post, "/apis/apps/v1/namespaces/team/replicasets", body: replicaSet).status == 201)
        _ = try await harness.request(.post, "/api/v1/namespaces/team/configmaps", body: ["metadata": ["name": "held", "finalizers": ["example.com/hold"]]])

        // Deleting the owner collects its ReplicaSet.
        #expect(try await harness.request(.delete, "/apis/apps/v1/namespaces/team/deployments/web").status == 200)
        #expect(try await harness.request(.get, "/apis/apps/v1/namespaces/team/replicasets/web-1").status == 404)

        // A finalizer holds deletion: deletionTimestamp first, gone once the finalizer is removed.
        let marked = try await harness.request(.delete, "/api/v1/namespaces/team/configmaps/held")
        #expect(marked.body[path: ["metadata", "deletionTimestamp"]] != nil)
        #expect(try await harness.request(.get, "/api/v1/namespaces/team/configmaps/held").status == 200)

        // The namespace terminates, refuses new content, and goes once its last object goes.
        let terminating = try await harness.request(.delete, "/api/v1/namespaces/team")
        #expect(terminating.body[path: ["status", "phase"]] == "Terminating")
        let refused = try await harness.request(.post, "/api/v1/namespaces/team/configmaps", body: ["metadata": ["name": "late"]])
        #expect(refused.status == 403)
        let release = try await harness.request(.patch, "/api/v1/namespaces/team/configmaps/held", body: ["metadata": ["finalizers": .null]], contentType: "application/merge-patch+json")
        #expect(release.status == 200)
        #expect(try await harness.request(.get, "/api/v1/namespaces/team/configmaps/held").status == 404)
        #expect(try await harness.request(.get, "/api/v1/namespaces/team").status == 404)
    }

    @Test func workloadStatusFollowsReplicasAfterTheDelay() async throws {
        let harness = try await SimHarness.start { $0.workloadReadyDelay = .milliseconds(300) }
        defer { afterTest { await harness.stop() } }
        let created = try await harness.request(.post, "/apis/apps/v1/namespaces/default/statefulsets", body: ["metadata": ["name": "db"], "spec": ["replicas": 3, "selector": ["matchLabels": ["app": "db"]], "template": SimHarness.podTemplate(app: "db")]])
        #expect(created.body[path: ["status", "readyReplicas"]] == nil)
        #expect(try await eventually { try await harness.request(.get, "/apis/apps/v1/namespaces/default/statefulsets/db").body[path: ["status", "readyReplicas"]] == 3 })
        let settled = try await harness.request(.get, "/apis/apps/v1/namespaces/default/statefulsets/db")
        #expect(settled.body[path: ["status", "readyReplicas"]] == 3)
        #expect(settled.body[path: ["status", "observedGeneration"]] == 1)
    }

    @Test func aCronJobsSuspendIsStoredAsGiven() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let spec: JSONValue = ["schedule": "0 3 * * *", "jobTemplate": ["spec": ["template": ["spec": ["containers": [["name": "c", "image": "i"]], "restartPolicy": "Never"]]]]]
        var suspended = spec
        suspended["suspend"] = true
        let created = try await harness.request(.post, "/apis/batch/v1/namespaces/default/cronjobs", body: ["metadata": ["name": "nightly"], "spec": suspended])
        #expect(created.status == 201)
        #expect(created.body[path: ["spec", "suspend"]] == true)
        let defaulted = try await harness.request(.post, "/apis/batch/v1/namespaces/default/cronjobs", body: ["metadata": ["name": "hourly"], "spec": spec])
        #expect(defaulted.body[path: ["spec", "suspend"]] == false, "absent means false, as the API server defaults it")
        let resumed = try await harness.request(.patch, "/apis/batch/v1/namespaces/default/cronjobs/nightly", body: ["spec": ["suspend": false]], contentType: "application/merge-patch+json")
        #expect(resumed.body[path: ["spec", "suspend"]] == false)
        let read = try await harness.request(.get, "/apis/batch/v1/namespaces/default/cronjobs/nightly")
        #expect(read.body[path: ["spec", "suspend"]] == false)
        #expect(read.body[path: ["spec", "schedule"]] == "0 3 * * *")
    }

    @Test func watchDeliversChangesResumesAndBookmarks() async throws {
        let harness = try await SimHarness.start { $0.bookmarkInterval = .milliseconds(100) }
        defer { afterTest { await harness.stop() } }
        let created = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "a"], "data": ["v": "1"]])
        let startVersion = try #require(created.body[path: ["metadata", "resourceVersion"]]?.string)

        let events = try await harness.watch("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=\(startVersion)", count: 3) {
            _ = try await harness.request(.patch, "/api/v1/namespaces/default/configmaps/a", body: ["data": ["v": "2"]], contentType: "application/merge-patch+json")
            _ = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "b"]])
            _ = try await harness.request(.delete, "/api/v1/namespaces/default/configmaps/a")
        }
        #expect(events.map { $0["type"]?.string } == ["MODIFIED", "ADDED", "DELETED"])
        #expect(events.map { $0[path: ["object", "metadata", "name"]]?.string } == ["a", "b", "a"])

        // Resuming from the first event's version replays exactly what followed it.
        let resumeFrom = try #require(events[0][path: ["object", "metadata", "resourceVersion"]]?.string)
        let replay = try await harness.watch("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(resumeFrom)", count: 2)
        #expect(replay.map { $0["type"]?.string } == ["ADDED", "DELETED"])

        // Without a version the watch starts with the current objects; bookmarks follow when asked.
        let initial = try await harness.watch("/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true", count: 2)
        #expect(initial.first?["type"] == "ADDED")
        #expect(initial.first?[path: ["object", "metadata", "name"]] == "b")
        #expect(initial.last?["type"] == "BOOKMARK")
        #expect(initial.last?[path: ["object", "metadata", "resourceVersion"]]?.string != nil)

        // Selectors follow objects into and out of view.
        let labelled = try await harness.watch("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=\(startVersion)&labelSelector=sleep%3Dyes", count: 2) {
            _ = try await harness.request(.patch, "/api/v1/namespaces/default/configmaps/b", body: ["metadata": ["labels": ["sleep": "yes"]]], contentType: "application/merge-patch+json")
            _ = try await harness.request(.patch, "/api/v1/namespaces/default/configmaps/b", body: ["metadata": ["labels": ["sleep": "no"]]], contentType: "application/merge-patch+json")
        }
        #expect(labelled.map { $0["type"]?.string } == ["ADDED", "DELETED"])
    }

    @Test func watchFromACompactedVersionIsGoneAndExpiryEndsWatches() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let created = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "a"]])
        let version = try #require(created.body[path: ["metadata", "resourceVersion"]]?.string)
        _ = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "b"]])
        await harness.sim.compactHistory()
        let gone = try await harness.watch("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=\(version)", count: 1)
        #expect(gone.first?["type"] == "ERROR")
        #expect(gone.first?[path: ["object", "code"]] == 410)
        #expect(gone.first?[path: ["object", "reason"]] == "Expired")

        let current = try await harness.request(.get, "/api/v1/namespaces/default/configmaps")
        let listVersion = try #require(current.body[path: ["metadata", "resourceVersion"]]?.string)
        let expired = try await harness.watch("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=\(listVersion)", count: 1) {
            try await Task.sleep(for: .milliseconds(100))
            await harness.sim.expireWatches()
        }
        #expect(expired.first?["type"] == "ERROR")
        #expect(expired.first?[path: ["object", "code"]] == 410)
    }

    @Test func droppedWatchConnectionIsAnErrorForTheClient() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let response = try await harness.client.stream(HTTPRequest(url: harness.sim.url + "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1"))
        let reader = Task {
            var count = 0
            for try await _ in response.lines { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(200))
        await harness.sim.dropWatches()
        let result = await reader.result
        #expect(throws: TransportError.self) { try result.get() }
    }

    @Test func plainHTTPServerWorksWithoutTLS() async throws {
        let harness = try await SimHarness.start {
            $0.tls = false
            $0.allowAnonymous = true
        }
        defer { afterTest { await harness.stop() } }
        #expect(harness.sim.url.hasPrefix("http://"))
        let namespaces = try await harness.request(.get, "/api/v1/namespaces")
        #expect(namespaces.body["items"]?.array?.compactMap { $0[path: ["metadata", "name"]]?.string } == ["default", "kube-node-lease", "kube-public", "kube-system"])
    }

}
