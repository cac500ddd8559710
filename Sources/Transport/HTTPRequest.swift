import Foundation

public enum HTTPMethod: String, Sendable {
    case get = "GET", head = "HEAD", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"
}

/// One outbound HTTP request.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// An absolute `http` or `https` URL.
    public var url: String
    public var headers: HTTPHeaders
    public var body: Data?
    /// Overrides the client's total timeout for this request; `.zero` disables it (watches).
    public var timeout: Duration?

    public init(method: HTTPMethod = .get, url: String, headers: HTTPHeaders = [:], body: Data? = nil, timeout: Duration? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A response whose body has been read to the end.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public init(status: Int, headers: HTTPHeaders, body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A response whose head has arrived and whose body arrives line by line, as a watch delivers events.
/// Dropping or cancelling the iteration of `lines` cancels the transfer.
public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// Body lines without their trailing `\n` (or `\r\n`); a last line without a newline is delivered too.
    public var lines: AsyncThrowingStream<Data, any Error>

    /// Reads the rest of the body, joining lines with `\n`; for error responses.
    public func collectBody() async throws -> Data {
        var body = Data()
        for try await line in lines {
            if !body.isEmpty { body.append(0x0A) }
            body.append(line)
        }
        return body
    }
}
