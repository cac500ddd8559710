import ArgoSim
import Foundation
import JSON
import TestSupport
import Testing
import Transport

/// Requests no client should send: Argo CD answers with a 4xx in grpc-gateway's error shape
/// (`error`, `code`, `message`), never a 5xx or a crash. Randomized from a printed seed.
@Suite("ArgoSim bad input", .awaitingCleanup)
struct ArgoBadInputTests {
    static let paths = [
        "/api/v1/applications", "/api/v1/applications/staging-payments", "/api/v1/applications/staging-payments/sync",
        "/api/v1/applications/staging-payments/spec", "/api/v1/applications/staging-payments/operation", "/api/v1/applications/ghost/sync",
        "/api/v1/session", "/api/v1/nothing", "/api/v2/applications", "/", "/api/v1/applications/%ZZ",
    ]
    static let queries = ["", "?refresh=sideways", "?refresh=hard", "?project=default", "?cascade=false", "?upsert=true"]
    static let values: [JSONValue] = [.null, true, 7, "", "x", [], ["a": [1]], "{\"spec\":", .string(String(repeating: "y", count: 3000))]
    static let keys = ["revision", "prune", "dryRun", "patch", "patchType", "spec", "metadata", "username", "password", "resources", "syncOptions"]

    @Test func randomRequestsGetClientErrors() async throws {
        var random = SeededGenerator()
        let seed = random.seed
        let harness = try await GitOpsHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.argocd.createApplication(GitOpsHarness.application(syncPolicy: .emptyObject))
        let methods: [HTTPMethod] = [.get, .post, .put, .patch, .delete]
        for _ in 0..<200 {
            let method = methods.randomElement(using: &random)!
            let path = Self.paths.randomElement(using: &random)! + Self.queries.randomElement(using: &random)!
            var body: JSONValue = .emptyObject
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                body[Self.keys.randomElement(using: &random)!] = Self.values.randomElement(using: &random)!
            }
            let reply = try await harness.request(method, path, body: body)
            #expect(reply.status < 500, "seed \(seed): \(method.rawValue) \(path) \(body) → \(reply.status) \(reply.body)")
            if reply.status >= 400 {
                #expect(reply.body["code"]?.int != nil && reply.body["message"]?.string != nil, "seed \(seed): \(method.rawValue) \(path) → \(reply.body)")
            }
        }
        #expect(try await harness.request(.get, "/api/v1/applications").status == 200)
    }
}
