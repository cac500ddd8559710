import Foundation
import JSON

/// Why a call to GitLab or Argo CD failed, with what was tried: the service, the request (method
/// and path, never a token) and the answer. Callers switch on `reason`; people read `description`.
public struct GitOpsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Service: String, Sendable {
        case gitlab = "GitLab"
        case argocd = "Argo CD"
    }

    public enum Reason: Sendable, Equatable {
        /// No token configured: the environment variable to set.
        case missingToken(variable: String)
        case unauthorized
        case forbidden
        case notFound
        /// GitLab's 405: the merge request cannot be merged yet (checks running, not approved).
        case notAllowed
        /// GitLab's 406 (422 in newer versions) on merge: the branch has conflicts.
        case cannotMerge
        case conflict
        /// 400 or 422: the request was refused as it stands.
        case invalid
        /// 429 still after waiting as told.
        case rateLimited(retryAfter: Duration?)
        case server(status: Int)
        /// No answer: connection refused, timeout, lost connection.
        case unreachable
        /// An answer that is not what the API documents.
        case unexpected
    }

    public var service: Service
    public var reason: Reason
    public var method: String
    /// The request path (and query), as tried.
    public var path: String
    public var status: Int?
    /// The message of the answer (GitLab's `message`/`error`, Argo CD's `message`), or the transport's.
    public var message: String?
    /// Argo CD's gRPC code (`code` in its error body), e.g. 9 for FailedPrecondition.
    public var grpcCode: Int?

    public init(service: Service, reason: Reason, method: String, path: String, status: Int? = nil, message: String? = nil, grpcCode: Int? = nil) {
        self.service = service
        self.reason = reason
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        self.grpcCode = grpcCode
    }

    /// Worth trying again later: throttling, server errors, no answer.
    public var isTransient: Bool {
        switch reason {
        case .rateLimited, .server, .unreachable: true
        default: false
        }
    }

    /// Argo CD's "another operation is already in progress" (FailedPrecondition).
    public var isOperationInProgress: Bool {
        service == .argocd && status == 400 && grpcCode == 9
    }

    public var description: String {
        let tried = "\(method) \(path)"
        let answer = message.map { ": \($0)" } ?? ""
        switch reason {
        case .missingToken(let variable):
            return "\(service.rawValue): no token configured: set \(variable)"
        case .unauthorized:
            return "\(service.rawValue) refused the token (401) for \(tried)\(answer); check \(tokenVariable)"
        case .forbidden:
            return "\(service.rawValue) denied \(tried) (403)\(answer); the token lacks the permission (\(permissionHint))"
        case .notFound:
            return "\(service.rawValue) found nothing at \(tried) (404)\(answer)"
        case .rateLimited(let retryAfter):
            let wait = retryAfter.map { " (Retry-After \(Int($0.components.seconds)) s)" } ?? ""
            return "\(service.rawValue) kept throttling \(tried) (429)\(wait)"
        case .unreachable:
            return "\(service.rawValue) did not answer \(tried)\(answer)"
        case .unexpected:
            return "\(service.rawValue) gave an unexpected answer to \(tried)\(answer)"
        default:
            return "\(service.rawValue) answered \(status.map(String.init) ?? "?") to \(tried)\(answer)"
        }
    }

    private var tokenVariable: String {
        service == .gitlab ? "SANDMAN_GITLAB_TOKEN" : "SANDMAN_ARGOCD_TOKEN"
    }

    private var permissionHint: String {
        service == .gitlab ? "scope api and Developer access to the project" : "sync and update on the Application's project"
    }
}
