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
        let mapper = RESTMapper(missingGroupRecheck: .milliseconds(200)) { path in
            asked.withLock { $0.append(path) }
            guard installed.withLock({ $0 }) else { throw KubeError(reason: .notFound, message: "404 \(path)") }
            switch path {
            case "/apis/keda.sh": return ["preferredVersion": ["version": "v1alpha1"]]
            default: return ["resources": [["name": "scaledobjects", "kind": "ScaledObject", "namespaced": true]]]
            }
        }
        for _ in 0..<20 {
            await #expect(throws: KubeError.self) { _ = try await mapper.resource(group: "keda.sh", kind: "ScaledObject") }
        }
        #expect(asked.withLock { $0 } == ["/apis/keda.sh"])

        installed.withLock { $0 = true }
        try await Task.sleep(for: .milliseconds(250))
        let found = try await mapper.resource(group: "keda.sh", kind: "ScaledObject")
        #expect(found.plural == "scaledobjects")
        #expect(asked.withLock { $0 } == ["/apis/keda.sh", "/apis/keda.sh", "/apis/keda.sh/v1alpha1"])
    }
}
