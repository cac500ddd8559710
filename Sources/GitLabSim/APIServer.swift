import Foundation
import HTTPTypes
import Hummingbird
import JSON
import NIOCore
import SimulatorKit

/// What a route answers before it becomes an HTTP response.
enum Reply: Sendable {
    case json(JSONValue, status: Int = 200)
    /// A paginated list: `page`/`per_page` applied, `X-Page`/`X-Total`/`Link` headers added.
    case list([JSONValue])
    case raw(Data)
    case noContent
}

/// Answers every request of the simulated GitLab: faults, authentication, scopes, then the
/// `/api/v4` route.
struct APIServer: HTTPResponder {
    typealias Context = ConnectionContext
    let state: GitLabState
    static let maxBodySize = 32 << 20

    func respond(to request: Request, context: ConnectionContext) async throws -> Response {
        let started = Date()
        var record = RequestRecord(time: started, method: request.method.rawValue, route: "", path: request.uri.description, user: nil, status: 0)
        defer {
            let finished = record
            state.requests.append(finished)
        }
        let segments = Self.segments(request.uri.path)
        let apiPath = segments.count >= 2 && segments[0] == "api" && segments[1] == "v4" ? Array(segments.dropFirst(2)) : nil
        record.route = apiPath.map { Router.pattern(method: request.method.rawValue, path: $0) } ?? ""
        switch await state.faults.judge() {
        case .proceed:
            break
        case .rateLimited(let retryAfter, let limit):
            record.status = 429
            return rateLimited(retryAfter: retryAfter, limit: limit)
        case .drop:
            return context.cutResponse()
        case .serverError:
            record.status = 500
            return Self.json(GitLabError.internalError.body, status: 500)
        }
        do {
            guard let apiPath else { throw GitLabError.noRoute }
            let user = try authenticate(request)
            record.user = user?.username
            var body = try await request.body.collect(upTo: Self.maxBodySize)
            let data = body.readData(length: body.readableBytes) ?? Data()
            let parameters = try Parameters(query: request.uri.query, body: data, contentType: request.headers[.contentType])
            let paging = try Pagination(parameters: parameters)
            let router = Router(store: state.store, method: request.method.rawValue, user: user, parameters: parameters)
            let reply = try await router.route(apiPath)
            let response = render(reply, request: request, paging: paging)
            record.status = response.status.code
            return response
        } catch let error as GitLabError {
            if error.body == GitLabError.noRoute.body { record.route = "" }
            record.status = error.status
            return Self.json(error.body, status: error.status)
        } catch {
            record.status = 400
            return Self.json(["error": .string("\(error)")], status: 400)
        }
    }

    /// The path's segments, each percent-decoded (`group%2Fproject` is one segment).
    static func segments(_ path: String) -> [String] {
        path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
    }

    /// The token's user; nil for a request without credentials.
    private func authenticate(_ request: Request) throws(GitLabError) -> User? {
        var token = request.headers[HTTPField.Name("PRIVATE-TOKEN")!]
        if token == nil, let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        guard let token else { return nil }
        guard let access = state.tokens.withLock({ $0[token] }) else { throw .unauthorized }
        guard access.allows(method: request.method.rawValue) else { throw .insufficientScope }
        guard let user = state.users.withLock({ $0[access.username] }) else { throw .unauthorized }
        return user
    }

    private func rateLimited(retryAfter: Int, limit: Int) -> Response {
        let reset = Int(Date().timeIntervalSince1970) + retryAfter
        var headers: HTTPFields = [.contentType: "text/plain", .retryAfter: String(retryAfter)]
        headers[HTTPField.Name("RateLimit-Name")!] = "throttle_authenticated_api"
        headers[HTTPField.Name("RateLimit-Limit")!] = String(limit)
        headers[HTTPField.Name("RateLimit-Observed")!] = String(limit + 1)
        headers[HTTPField.Name("RateLimit-Remaining")!] = "0"
        headers[HTTPField.Name("RateLimit-Reset")!] = String(reset)
        headers[HTTPField.Name("RateLimit-ResetTime")!] = Date(timeIntervalSince1970: TimeInterval(reset)).formatted(.dateTime)
        return Response(status: .tooManyRequests, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "Retry later\n")))
    }

    private func render(_ reply: Reply, request: Request, paging: Pagination) -> Response {
        switch reply {
        case .json(let value, let status):
            return Self.json(value, status: status)
        case .raw(let data):
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        case .noContent:
            return Response(status: .noContent)
        case .list(let items):
            var response = Self.json(.array(Array(items[paging.range(items.count)])))
            let base = "http://\(request.head.authority ?? "localhost")\(request.uri.path)"
            for (name, value) in paging.headers(total: items.count, base: base, query: request.uri.query) {
                response.headers[HTTPField.Name(name)!] = value
            }
            return response
        }
    }

    static func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.serializedData())))
    }
}
