import JSON

/// An error as Argo CD's API server answers it: a gRPC status mapped to HTTP by grpc-gateway v1,
/// body `{"error": message, "code": grpcCode, "message": message}`.
struct ArgoError: Error, Sendable {
    enum Code: Int, Sendable {
        case invalidArgument = 3, notFound = 5, alreadyExists = 6, permissionDenied = 7, failedPrecondition = 9
        case `internal` = 13, unavailable = 14, unauthenticated = 16

        /// grpc-gateway's `HTTPStatusFromCode`.
        var httpStatus: Int {
            switch self {
            case .invalidArgument, .failedPrecondition: 400
            case .notFound: 404
            case .alreadyExists: 409
            case .permissionDenied: 403
            case .internal: 500
            case .unavailable: 503
            case .unauthenticated: 401
            }
        }
    }

    var code: Code
    var message: String

    var status: Int { code.httpStatus }
    var body: JSONValue { ["error": .string(message), "code": .int(Int64(code.rawValue)), "message": .string(message)] }

    static let noSession = ArgoError(code: .unauthenticated, message: "no session information")
    static let invalidLogin = ArgoError(code: .unauthenticated, message: "Invalid username or password")
    static let permissionDenied = ArgoError(code: .permissionDenied, message: "permission denied")
    static let operationInProgress = ArgoError(code: .failedPrecondition, message: "another operation is already in progress")

    static func notFound(_ name: String) -> ArgoError {
        ArgoError(code: .notFound, message: "applications.argoproj.io \"\(name)\" not found")
    }

    static func invalid(_ message: String) -> ArgoError { ArgoError(code: .invalidArgument, message: message) }
}
