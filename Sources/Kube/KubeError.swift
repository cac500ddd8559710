import JSON
import Transport

/// A Kubernetes `Status`: what the API server says when a request fails.
public struct KubeStatus: Sendable, Equatable {
    public var code: Int
    public var reason: String
    public var message: String
    public var details: JSONValue?

    public init(code: Int, reason: String, message: String, details: JSONValue? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// Reads a Status object; nil when `value` is not one.
    public init?(_ value: JSONValue) {
        guard value["kind"]?.string == "Status" else { return nil }
        self.init(
            code: Int(value["code"]?.int ?? 0), reason: value["reason"]?.string ?? "",
            message: value["message"]?.string ?? "", details: value["details"]
        )
    }
}

/// A failed Kubernetes request: why, on which cluster, which verb and path, and the server's
/// `Status` when it sent one. Switch on `reason`; never match messages.
public struct KubeError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// Connection refused or lost: no answer from the server.
        case unreachable
        /// The server's host name does not resolve.
        case unresolvable
        case tls
        case timeout
        case unauthorized
        case forbidden
        case notFound
        case alreadyExists
        case conflict
        /// 410: an expired continue token or resourceVersion.
        case gone
        case invalid
        case badRequest
        case unsupportedMediaType
        case throttled(retryAfter: Duration?)
        case serverError(Int)
        /// Any other HTTP status.
        case status(Int)
        /// A response that could not be understood.
        case decoding
        /// Bad kubeconfig or credentials that cannot be obtained (exec plugin failure).
        case configuration
        case cancelled
    }

    public var reason: Reason
    public var cluster: String?
    public var verb: String?
    public var path: String?
    public var status: KubeStatus?
    public var message: String

    public init(reason: Reason, cluster: String? = nil, verb: String? = nil, path: String? = nil, status: KubeStatus? = nil, message: String) {
        self.reason = reason
        self.cluster = cluster
        self.verb = verb
        self.path = path
        self.status = status
        self.message = message
    }

    public var isNotFound: Bool { reason == .notFound }
    public var isConflict: Bool { reason == .conflict }
    public var isAlreadyExists: Bool { reason == .alreadyExists }
    public var isGone: Bool { reason == .gone }
    public var isTooManyRequests: Bool {
        if case .throttled = reason { return true }
        return false
    }

    public var description: String {
        var prefix = [cluster.map { "cluster \($0)" }, verb, path].compactMap { $0 }.joined(separator: " ")
        if !prefix.isEmpty { prefix += ": " }
        return prefix + message
    }

    /// The error for an HTTP response that is not a success.
    static func from(status code: Int, body: JSONValue?, retryAfter: Duration?) -> KubeError {
        let status = body.flatMap(KubeStatus.init)
        let reason: Reason = switch code {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 409: status?.reason == "AlreadyExists" ? .alreadyExists : .conflict
        case 410: .gone
        case 415: .unsupportedMediaType
        case 422: .invalid
        case 429: .throttled(retryAfter: retryAfter)
        case 500...599: .serverError(code)
        default: .status(code)
        }
        return KubeError(reason: reason, status: status, message: status?.message ?? "HTTP \(code)")
    }

    static func from(_ error: TransportError) -> KubeError {
        let reason: Reason = switch error.reason {
        case .tls: .tls
        case .timeout: .timeout
        case .cancelled, .shutdown: .cancelled
        case .invalidRequest: .configuration
        case .dns: .unresolvable
        default: .unreachable
        }
        return KubeError(reason: reason, message: "\(error.reason): \(error.detail)")
    }
}

/// A watch event or list item that is not a valid object.
struct DecodingFailure: Error, CustomStringConvertible {
    var description: String
}
