/// A request that got no HTTP response. HTTP error statuses are responses, not `TransportError`s.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case invalidRequest
        case dns
        case connect
        case tls
        case proxy
        case timeout
        case connectionLost
        case cancelled
        case shutdown
        case other
    }

    public var reason: Reason
    public var method: HTTPMethod
    public var url: String
    /// libcurl's own explanation, when there is one.
    public var detail: String

    public init(reason: Reason, method: HTTPMethod, url: String, detail: String) {
        self.reason = reason
        self.method = method
        self.url = url
        self.detail = detail
    }

    public var description: String {
        "\(method.rawValue) \(url): \(reason): \(detail)"
    }
}
