import Foundation
import JSON
import Transport

/// Told of every exchange with GitLab or Argo CD, for metrics: the service, a fixed name for the
/// call (`create_merge_request`, `sync`), its result (the status code, or `unreachable`) and how
/// long it took.
public typealias RequestObserver = @Sendable (_ service: GitOpsError.Service, _ call: String, _ result: String, _ seconds: Double) -> Void

/// JSON over HTTP to one service with its token: throttling (429) waited out as `Retry-After`
/// says, server errors and lost connections retried for reads, every other answer turned into a
/// `GitOpsError` naming what was tried. The token goes in a header and nowhere else.
struct ServiceClient: Sendable {
    var service: GitOpsError.Service
    /// Everything before the request paths, without a trailing slash.
    var baseURL: String
    /// The header carrying the token, and its value; nil when no token is configured.
    var authorization: (name: String, value: String)?
    /// The environment variable that gives the token, for the error when there is none.
    var tokenVariable: String
    var http: HTTPClient
    var observe: RequestObserver?
    var maxAttempts = 5
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    var maxRetryAfter: Duration = .seconds(60)

    func send(_ method: HTTPMethod, _ path: String, call: String, body: JSONValue? = nil) async throws(GitOpsError) -> JSONValue {
        guard let authorization else {
            throw GitOpsError(service: service, reason: .missingToken(variable: tokenVariable), method: method.rawValue, path: path)
        }
        var headers: HTTPHeaders = [authorization.name: authorization.value, "Accept": "application/json"]
        if body != nil { headers["Content-Type"] = "application/json" }
        let request = HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body?.serializedData())
        var attempt = 0
        while true {
            attempt += 1
            let started = ContinuousClock.now
            let response: HTTPResponse
            do {
                response = try await http.send(request)
            } catch {
                observe?(service, call, "unreachable", (ContinuousClock.now - started).seconds)
                let failure = GitOpsError(service: service, reason: .unreachable, method: method.rawValue, path: path, message: Self.transportMessage(error))
                if method == .get, attempt < maxAttempts, !Task.isCancelled {
                    try await pause(backoff(attempt), failure)
                    continue
                }
                throw failure
            }
            observe?(service, call, String(response.status), (ContinuousClock.now - started).seconds)
            if (200..<300).contains(response.status) {
                if response.body.isEmpty { return .null }
                guard let value = try? JSONValue(parsing: response.body) else {
                    throw GitOpsError(service: service, reason: .unexpected, method: method.rawValue, path: path, status: response.status, message: "the body is not JSON")
                }
                return value
            }
            let failure = error(for: response, method: method, path: path)
            let retryable = response.status == 429 || (method == .get && response.status >= 500)
            if retryable, attempt < maxAttempts, !Task.isCancelled {
                try await pause(response.status == 429 ? retryAfter(response.headers) ?? backoff(attempt) : backoff(attempt), failure)
                continue
            }
            throw failure
        }
    }

    private func pause(_ delay: Duration, _ failure: GitOpsError) async throws(GitOpsError) {
        do {
            try await Task.sleep(for: delay)
        } catch {
            throw failure
        }
    }

    /// Jittered exponential backoff from 200 ms, at most 5 s.
    private func backoff(_ attempt: Int) -> Duration {
        min(.milliseconds(200) * (1 << min(attempt - 1, 10)), .seconds(5)) * Double.random(in: 0.75...1.25)
    }

    private func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let text = headers["Retry-After"], let seconds = Double(text.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return min(.milliseconds(Int64(seconds * 1000)), maxRetryAfter)
    }

    private func error(for response: HTTPResponse, method: HTTPMethod, path: String) -> GitOpsError {
        let body = try? JSONValue(parsing: response.body)
        let message = body.flatMap(Self.message) ?? String(decoding: response.body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let reason: GitOpsError.Reason = switch response.status {
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .notAllowed
        case 406: .cannotMerge
        case 409: .conflict
        case 429: .rateLimited(retryAfter: retryAfter(response.headers))
        case 500...: .server(status: response.status)
        default: .invalid
        }
        return GitOpsError(
            service: service, reason: reason, method: method.rawValue, path: path, status: response.status,
            message: message.isEmpty ? nil : message, grpcCode: body?["code"]?.int.map(Int.init)
        )
    }

    /// The message of an error body: GitLab's `message` (a string, a list, or an object of lists),
    /// `error` and `error_description`, Argo CD's `message`.
    static func message(_ body: JSONValue) -> String? {
        switch body["message"] {
        case .string(let text)?: return text
        case .array(let items)?: return items.compactMap(\.string).joined(separator: "; ")
        case .object(let fields)?:
            return fields.sorted { $0.key < $1.key }.map { key, value in
                "\(key) \((value.array?.compactMap(\.string) ?? [value.string ?? "\(value)"]).joined(separator: ", "))"
            }.joined(separator: "; ")
        default: break
        }
        let parts = [body["error"]?.string, body["error_description"]?.string].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: ": ")
    }

    private static func transportMessage(_ error: any Error) -> String {
        (error as? TransportError).map { "\($0.reason): \($0.detail)" } ?? "\(error)"
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// Percent-encodes a path segment or query value: everything but RFC 3986's unreserved characters,
/// so that `group/project` becomes `group%2Fproject` as GitLab wants it.
func encoded(_ text: String) -> String {
    let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}
