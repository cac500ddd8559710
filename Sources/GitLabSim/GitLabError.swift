import JSON

/// An answer GitLab gives instead of a result: an HTTP status and GitLab's JSON error body.
///
/// GitLab's API (Grape) has three body shapes: `{"message": "..."}` from its own helpers
/// (`render_api_error!`, `not_found!`), `{"message": ["..."]}` for model validation errors, and
/// `{"error": "..."}` for parameter validation and unknown routes.
struct GitLabError: Error, Sendable {
    var status: Int
    var body: JSONValue
    /// Seconds for `Retry-After`, on 429 only.
    var retryAfter: Int?

    static func message(_ status: Int, _ text: String) -> GitLabError {
        GitLabError(status: status, body: ["message": .string(text)])
    }

    /// Validation errors of a model, e.g. a duplicate merge request (409).
    static func messages(_ status: Int, _ texts: [String]) -> GitLabError {
        GitLabError(status: status, body: ["message": .array(texts.map(JSONValue.string))])
    }

    /// Grape's parameter validation: `{"error": "branch is missing, commit_message is missing"}`.
    static func invalid(_ text: String) -> GitLabError {
        GitLabError(status: 400, body: ["error": .string(text)])
    }

    static func missing(_ names: [String]) -> GitLabError {
        invalid(names.map { "\($0) is missing" }.joined(separator: ", "))
    }

    static func badRequest(_ text: String) -> GitLabError { message(400, text) }

    /// `not_found!('Project')` answers `404 Project Not Found`; a missing record without a name `404 Not found`.
    static func notFound(_ what: String? = nil) -> GitLabError {
        message(404, what.map { "404 \($0) Not Found" } ?? "404 Not found")
    }

    static let unauthorized = message(401, "401 Unauthorized")
    static let forbidden = message(403, "403 Forbidden")
    static let methodNotAllowed = message(405, "405 Method Not Allowed")
    /// An unknown route: Grape's own 404.
    static let noRoute = GitLabError(status: 404, body: ["error": "404 Not Found"])

    /// A token whose scopes do not cover the request (`read_api` on a write): rack-oauth2's body.
    static let insufficientScope = GitLabError(status: 403, body: [
        "error": "insufficient_scope",
        "error_description": "The request requires higher privileges than provided by the access token.",
        "scope": "api",
    ])

    static func conflict(_ text: String) -> GitLabError { message(409, text) }

    static let internalError = message(500, "500 Internal Server Error")
}
