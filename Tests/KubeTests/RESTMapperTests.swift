import JSON
import Synchronization
import Testing
@testable import Kube

/// Discovery through the mapper: a group the server does not serve (a CRD not installed) is not
/// asked about at every sleep of every namespace, and is found once it appears.
@Suite("REST mapper")
struct RESTMapperTests {
    @Test func aMissingGroupIsAskedAgainOnlyAfterAWhile() async throws {
        let asked = Mutex<[String]>([])
        let installed = Mutex(false)
        // Long enough that a loaded machine asks twenty times within it.
        let mapper = RESTMapper(missingGroupRecheck: .seconds(2)) { path in
            asked.withLock { $0.append(path) }
            switch path {
            case "/apis":
                var groups: [JSONValue] = [["name": "apps", "versions": [["groupVersion": "apps/v1", "version": "v1"]], "preferredVersion": ["groupVersion": "apps/v1", "version": "v1"]]]
                if installed.withLock({ $0 }) {
                    groups.append(["name": "keda.sh", "versions": [["groupVersion": "keda.sh/v1alpha1", "version": "v1alpha1"]]])
                }
                return ["kind": "APIGroupList", "groups": .array(groups)]
            case "/apis/apps/v1": return ["resources": [["name": "deployments", "kind": "Deployment", "namespaced": true]]]
            case "/apis/keda.sh/v1alpha1": return ["resources": [["name": "scaledobjects", "kind": "ScaledObject", "namespaced": true]]]
            default: throw KubeError(reason: .notFound, message: "404 \(path)")
            }
        }
        // One read of /apis tells every group: Deployments need no read of /apis/apps.
        #expect(try await mapper.resource(group: "apps", kind: "Deployment").plural == "deployments")
        for _ in 0..<20 {
            await #expect(throws: KubeError.self) { _ = try await mapper.resource(group: "keda.sh", kind: "ScaledObject") }
        }
        #expect(asked.withLock { $0 } == ["/apis", "/apis/apps/v1"])

        installed.withLock { $0 = true }
        try await Task.sleep(for: .milliseconds(2100))
        let found = try await mapper.resource(group: "keda.sh", kind: "ScaledObject")
        #expect(found.plural == "scaledobjects")
        #expect(asked.withLock { $0 } == ["/apis", "/apis/apps/v1", "/apis", "/apis/keda.sh/v1alpha1"])

        // A kind its served group lacks (Argo CD's group without Rollouts), asked for by group:
        // one more read of the group version, then none for a while.
        for _ in 0..<10 {
            await #expect(throws: KubeError.self) { _ = try await mapper.resource(group: "apps", kind: "Widget") }
        }
        #expect(asked.withLock { $0 }.count == 5)
    }

    @Test func aGroupVersionTheServerStopsServingIsReadAgainOnceForgotten() async throws {
        let version = Mutex("v1alpha1")
        let mapper = RESTMapper(missingGroupRecheck: .seconds(3600)) { path in
            let served = version.withLock { $0 }
            switch path {
            case "/apis" where served == "gone":
                return ["kind": "APIGroupList", "groups": []]
            case "/apis":
                return ["kind": "APIGroupList", "groups": [["name": "keda.sh", "preferredVersion": ["groupVersion": .string("keda.sh/\(served)"), "version": .string(served)]]]]
            case "/apis/keda.sh/\(served)": return ["resources": [["name": "scaledobjects", "kind": "ScaledObject", "namespaced": true]]]
            default: throw KubeError(reason: .notFound, message: "404 \(path)")
            }
        }
        #expect(try await mapper.resource(group: "keda.sh", kind: "ScaledObject").kind.version == "v1alpha1")
        // The CRD now serves v1beta1 only; a list of v1alpha1 answered 404 and the client forgot it.
        version.withLock { $0 = "v1beta1" }
        #expect(try await mapper.resource(group: "keda.sh", kind: "ScaledObject").kind.version == "v1alpha1", "cached until told")
        await mapper.forget("keda.sh/v1alpha1")
        #expect(try await mapper.resource(group: "keda.sh", kind: "ScaledObject").kind.version == "v1beta1")
        // Removed altogether: not served, and asked about again only after a while.
        version.withLock { $0 = "gone" }
        await mapper.forget("keda.sh/v1beta1")
        await #expect(throws: KubeError.self) { _ = try await mapper.resource(group: "keda.sh", kind: "ScaledObject") }
    }
}
