import Foundation

/// Where a PostgreSQL store is and how to reach it. Its description never shows the password.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// How the connection is protected, named as libpq's `sslmode`.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS, without checking the server's certificate.
        case require
        /// TLS, with the certificate checked against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// Connections kept open at most (and threads running their transactions).
    public var poolSize: Int

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String, tls: TLSMode = .disable, poolSize: Int = 8) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.poolSize = poolSize
    }

    /// `postgres://user@host:port/database`: enough to find it, nothing secret.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(hostPart):\(port)/\(database)"
    }

    /// Why a database URL cannot be used.
    public struct URLError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Reads `postgres://user[:password]@host[:port]/database[?sslmode=…&pool_size=…]`. The error
    /// never repeats the URL, which may hold the password.
    public init(url text: String) throws(URLError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql"
        else { throw URLError(description: "expected a postgres:// or postgresql:// URL") }
        guard let host = components.host, !host.isEmpty else { throw URLError(description: "the URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw URLError(description: "the URL names no user (postgres://USER@host/database)") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw URLError(description: "the URL names no database (postgres://user@host/DATABASE)") }
        self.init(host: host, port: components.port ?? 5432, user: user, password: components.password, database: database)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw URLError(description: "sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            case "pool_size":
                guard let size = item.value.flatMap(Int.init), (1...100).contains(size) else {
                    throw URLError(description: "pool_size must be a number from 1 to 100")
                }
                poolSize = size
            default:
                throw URLError(description: "unknown URL parameter \(item.name) (known: sslmode, pool_size)")
            }
        }
    }
}
