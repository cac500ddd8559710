import Foundation
import JSON
import Transport

/// A client of a hub's API, for the CLI (and `sandman slack send`).
public struct HubClient: Sendable {
    public let baseURL: String
    private let token: String?
    private let http: HTTPClient

    public init(baseURL: String, token: String?) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.token = token
        self.http = HTTPClient(configuration: .init(timeout: .seconds(30), userAgent: "sandman-cli"))
    }

    public func get(_ path: String) async throws(HubClientError) -> JSONValue {
        try await send(.get, path, body: nil)
    }

    public func post(_ path: String, body: JSONValue) async throws(HubClientError) -> JSONValue {
        try await send(.post, path, body: body)
    }

    /// The answer's body (empty for 204 No Content).
    @discardableResult
    public func delete(_ path: String) async throws(HubClientError) -> JSONValue {
        try await send(.delete, path, body: nil)
    }

    private func send(_ method: HTTPMethod, _ path: String, body: JSONValue?) async throws(HubClientError) -> JSONValue {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        if body != nil { headers["Content-Type"] = "application/json" }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body?.serializedData()))
        } catch {
            throw HubClientError(status: 0, code: "unreachable", message: "cannot reach the hub at \(baseURL): \(error)", field: nil)
        }
        let value = response.body.isEmpty ? JSONValue.null : (try? JSONValue(parsing: response.body)) ?? .null
        guard (200..<300).contains(response.status) else {
            throw HubClientError(
                status: response.status, code: value[path: ["error", "code"]]?.string ?? "http_\(response.status)",
                message: value[path: ["error", "message"]]?.string ?? String(decoding: response.body, as: UTF8.self),
                field: value[path: ["error", "field"]]?.string
            )
        }
        return value
    }
}

/// The hub refused a request (or could not be reached).
public struct HubClientError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var field: String?

    public var description: String {
        let location = field.map { " (\($0))" } ?? ""
        return status == 0 ? message : "hub answered \(status) \(code)\(location): \(message)"
    }
}
