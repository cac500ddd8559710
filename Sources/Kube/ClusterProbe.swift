import Foundation
import JSON

/// What a quick check of a cluster found: who we are there, its version and readiness, and
/// how long it took, or precisely why it failed.
public struct ProbeResult: Sendable {
    public var cluster: String
    public var server: String
    public var user: String?
    public var version: String?
    public var ready: Bool
    public var latency: Duration
    /// Why the cluster could not be used (DNS, TLS, 401, 403, timeout, ...), nil when it can.
    public var failure: String?
    /// Whether the server answered at all (with an error too); false when it could not be
    /// reached: refused, unresolvable, timed out.
    public var answered = true

    public init(cluster: String, server: String, user: String? = nil, version: String? = nil, ready: Bool, latency: Duration, failure: String? = nil) {
        self.cluster = cluster
        self.server = server
        self.user = user
        self.version = version
        self.ready = ready
        self.latency = latency
        self.failure = failure
    }
}

extension KubeClient {
    /// Only `/readyz` (or `/healthz`): one request, for a cluster a full probe found usable recently.
    public func probeReadiness() async -> ProbeResult {
        await probing { result in
            result.ready = try await isReady()
        }
    }

    /// Reads `/version` and `/readyz` (falling back to `/healthz`), and asks who we are.
    public func probe() async -> ProbeResult {
        await probing { result in
            let version = try await json(Request(verb: "get", method: .get, path: "/version"))
            result.version = version["gitVersion"]?.string
            result.ready = try await isReady()
            // /version and /readyz are public: only an authenticated call shows whether we get in.
            result.user = try await whoAmI()
        }
    }

    /// Runs a probe's `steps`, timing them and explaining what failed.
    private func probing(_ steps: (inout ProbeResult) async throws -> Void) async -> ProbeResult {
        let start = ContinuousClock.now
        var result = ProbeResult(cluster: name, server: server, ready: false, latency: .zero)
        do {
            try await steps(&result)
            if !result.ready { result.failure = "the API server answers but is not ready" }
        } catch let error as KubeError {
            result.failure = Self.explain(error)
            result.answered = ![.unreachable, .unresolvable, .timeout].contains(error.reason)
        } catch {
            result.failure = "\(error)"
        }
        result.latency = ContinuousClock.now - start
        return result
    }

    /// The user the server sees (SelfSubjectReview); nil on servers without that API, where
    /// reading `/api` still checks that the credentials are accepted.
    public func whoAmI() async throws -> String? {
        let review: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"]
        do {
            let answer = try await json(Request(
                verb: "create", method: .post, path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                body: review.serializedData(), contentType: "application/json"
            ))
            return answer[path: ["status", "userInfo", "username"]]?.string
        } catch let error as KubeError where error.isNotFound {
            _ = try await json(Request(verb: "get", method: .get, path: "/api"))
            return nil
        }
    }

    /// `/readyz`, or `/healthz` on servers without it.
    public func isReady() async throws -> Bool {
        do {
            _ = try await perform(Request(verb: "get", method: .get, path: "/readyz"))
            return true
        } catch let error as KubeError where error.isNotFound {
            _ = try await perform(Request(verb: "get", method: .get, path: "/healthz"))
            return true
        } catch let error as KubeError where error.reason == .serverError(500) || error.reason == .serverError(503) {
            return false
        }
    }

    static func explain(_ error: KubeError) -> String {
        switch error.reason {
        case .unreachable: "unreachable: \(error.message)"
        case .unresolvable: "unreachable: DNS cannot resolve the server's host name (\(error.message))"
        case .tls: "TLS failure: \(error.message)"
        case .timeout: "timed out: \(error.message)"
        case .unauthorized: "401 Unauthorized: the credentials were refused"
        case .forbidden: "403 Forbidden: \(error.status?.message ?? error.message)"
        case .configuration: "configuration: \(error.message)"
        default: "\(error.message)"
        }
    }
}
