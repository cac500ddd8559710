import JSON

/// A failure answered as a Kubernetes `Status` object, with the code and reason kube-apiserver uses.
struct APIError: Error, Sendable {
    var code: Int
    var reason: String
    var message: String
    var details: JSONValue?
    /// Seconds, sent as `Retry-After` (429).
    var retryAfter: Int?

    var status: JSONValue {
        var status: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Failure",
            "message": .string(message), "code": .int(Int64(code)),
        ]
        if !reason.isEmpty { status["reason"] = .string(reason) }
        if let details { status["details"] = details }
        return status
    }

    private static func details(_ type: ResourceType, _ name: String) -> JSONValue {
        var details: JSONValue = ["name": .string(name), "kind": .string(type.plural)]
        if !type.group.isEmpty { details["group"] = .string(type.group) }
        return details
    }

    static func notFound(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(type.qualifiedName) \"\(name)\" not found", details: details(type, name))
    }

    static func pathNotFound(_ path: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: ["causes": [["reason": "UnexpectedServerResponse", "message": .string("404 page not found: \(path)")]]])
    }

    static func alreadyExists(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(type.qualifiedName) \"\(name)\" already exists", details: details(type, name))
    }

    static func conflict(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(type.qualifiedName) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again", details: details(type, name))
    }

    /// 409 for an apply that would change other managers' fields, as kube-apiserver words it.
    static func applyConflict(_ type: ResourceType, _ name: String, conflicts: [FieldOwnership.Conflict]) -> APIError {
        var details = details(type, name)
        details["causes"] = .array(conflicts.map { ["reason": "FieldManagerConflict", "message": .string("conflict with \($0.manager)"), "field": .string($0.path.display)] })
        let message: String
        if conflicts.count == 1 {
            message = "Apply failed with 1 conflict: conflict with \(conflicts[0].manager): \(conflicts[0].path.display)"
        } else {
            var lines: [String] = []
            for manager in Set(conflicts.map(\.manager)).sorted() {
                lines.append("conflicts with \(manager):")
                lines += conflicts.filter { $0.manager == manager }.map { "- \($0.path.display)" }
            }
            message = "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
        }
        return APIError(code: 409, reason: "Conflict", message: message, details: details)
    }

    /// 422 Invalid, as `errors.NewInvalid`: details name the kind (not the resource) and list the causes.
    static func invalid(_ type: ResourceType, _ name: String, causes: [FieldError]) -> APIError {
        var details: JSONValue = ["name": .string(name), "kind": .string(type.kind)]
        if !type.group.isEmpty { details["group"] = .string(type.group) }
        details["causes"] = .array(causes.map { ["reason": .string($0.kind.rawValue), "message": .string($0.body), "field": .string($0.field)] })
        let kind = type.group.isEmpty ? type.kind : "\(type.kind).\(type.group)"
        var messages: [String] = []
        for cause in causes where !messages.contains(cause.message) { messages.append(cause.message) }
        let summary = messages.count == 1 ? messages[0] : "[" + messages.joined(separator: ", ") + "]"
        return APIError(code: 422, reason: "Invalid", message: "\(kind) \"\(name)\" is invalid: \(summary)", details: details)
    }

    static func invalid(_ type: ResourceType, _ name: String, _ cause: FieldError) -> APIError {
        invalid(type, name, causes: [cause])
    }

    /// 400 for a body that does not decode into the kind, as kube-apiserver's `transformDecodeError`.
    static func undecodable(_ type: ResourceType, _ reason: String) -> APIError {
        .badRequest("\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): \(reason)")
    }

    static func forbidden(_ type: ResourceType, _ name: String, _ reason: String) -> APIError {
        APIError(code: 403, reason: "Forbidden", message: "\(type.qualifiedName) \"\(name)\" is forbidden: \(reason)", details: details(type, name))
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    static func gone(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }

    static func methodNotAllowed(_ message: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message)
    }

    static func unsupportedMediaType(_ contentType: String, accepted: [String]) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: \(accepted.joined(separator: ", ")) (got \(contentType))")
    }

    static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    static func forbidden(user: String, verb: String, type: ResourceType, name: String?, namespace: String?) -> APIError {
        var message = name.map { "\(type.qualifiedName) \"\($0)\" is forbidden: " } ?? "\(type.qualifiedName) is forbidden: "
        message += "User \"\(user)\" cannot \(verb) resource \"\(type.plural)\" in API group \"\(type.group)\""
        message += namespace.map { " in the namespace \"\($0)\"" } ?? " at the cluster scope"
        return APIError(code: 403, reason: "Forbidden", message: message, details: details(type, name ?? ""))
    }

    static func tooManyRequests(retryAfter: Int) -> APIError {
        APIError(code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later.", details: ["retryAfterSeconds": .int(Int64(retryAfter))], retryAfter: retryAfter)
    }

    /// An injected fault with `status`, worded as kube-apiserver answers it for the request.
    static func injected(status: Int, identity: Identity, verb: String, target: ResourceTarget) -> APIError {
        let name = target.name ?? ""
        switch status {
        case 403: return .forbidden(user: identity.user, verb: verb, type: target.type, name: target.name, namespace: target.namespace)
        case 404: return .notFound(target.type, name)
        case 409: return .conflict(target.type, name)
        case 422: return .invalid(target.type, name, .invalid("metadata.name", .string(name), "injected invalid value"))
        case 503: return APIError(code: 503, reason: "ServiceUnavailable", message: "the server is currently unable to handle the request")
        default: return .internalError("injected server error")
        }
    }

    static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }
}
