import Foundation
import HTTPTypes
import Hummingbird
import JSON
import NIOCore
import Synchronization

/// Turns every error into the one documented shape, `{"error": {"code", "message", "field"}}`,
/// with its status: the hub's refusals, a body over the limit (413), a path that exists with
/// other methods (405 and `Allow`), no such path (404), and anything unexpected (500).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let routes: RouteTable

    func handle(_ request: Request, context: HubRequestContext, next: (Request, HubRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HubError {
            return Self.response(error)
        } catch is NIOTooManyBytesError {
            return Self.response(HubError(kind: .payloadTooLarge, message: "the request body is larger than \(HubAPI.maximumBodySize >> 10) KiB"))
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty else { return Self.response(.notFound("no such path: \(request.uri.path)")) }
            let list = allowed.map(\.rawValue).joined(separator: ", ")
            var response = Self.response(HubError(kind: .methodNotAllowed, message: "\(request.method.rawValue) is not allowed on \(request.uri.path); allowed: \(list)"))
            response.headers[.allow] = list
            return response
        } catch let error as HTTPError {
            return Self.response(HubError(kind: error.status.code == 413 ? .payloadTooLarge : .badRequest, message: error.body ?? error.status.reasonPhrase))
        } catch {
            return Self.response(.internal("\(error)"))
        }
    }

    static func response(_ error: HubError) -> Response {
        var response = HubAPI.json(error.body, status: .init(code: error.kind.status))
        if error.kind == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }
}

extension HubError {
    /// `{"error": {"code", "message", "field"}}`, as every error response carries it.
    public var body: JSONValue {
        var error: JSONValue = ["code": .string(kind.rawValue), "message": .string(message)]
        if let field { error["field"] = .string(field) }
        return ["error": error]
    }
}

extension HubError.Kind {
    /// The HTTP status of a refusal of this kind.
    public var status: Int {
        switch self {
        case .badRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .payloadTooLarge: 413
        case .tooManyRequests: 429
        case .unavailable: 503
        case .internalError: 500
        }
    }
}

/// The routes of the router, filled once it is built, for `Allow` on a wrong method.
final class RouteTable: Sendable {
    private let routes = Mutex<[(segments: [Substring], method: HTTPRequest.Method)]>([])

    /// Takes the router's routes (`/api/v1/clusters/{cluster}` or `:cluster` captures).
    func record(_ descriptions: [(path: String, method: HTTPRequest.Method)]) {
        routes.withLock { routes in
            routes = descriptions.map { (Self.segments($0.path), $0.method) }
        }
    }

    /// The methods a path has routes for, sorted.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let target = Self.segments(path)
        let methods = routes.withLock { routes in
            routes.filter { route in
                route.segments.count == target.count && zip(route.segments, target).allSatisfy { pattern, segment in
                    pattern.hasPrefix(":") || pattern.hasPrefix("{") || pattern == segment
                }
            }.map(\.method)
        }
        return Array(Set(methods)).sorted { $0.rawValue < $1.rawValue }
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}
