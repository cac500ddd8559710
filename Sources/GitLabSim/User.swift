/// A GitLab user the simulator knows.
public struct User: Sendable, Hashable {
    public var id: Int
    public var username: String
    public var name: String
    public var email: String

    public init(id: Int, username: String, name: String? = nil, email: String? = nil) {
        self.id = id
        self.username = username
        self.name = name ?? username
        self.email = email ?? "\(username)@example.com"
    }
}

/// A personal access token: whose it is and its scopes (`api`, `read_api`).
public struct AccessToken: Sendable, Hashable {
    public var username: String
    public var scopes: Set<String>

    public init(username: String, scopes: Set<String> = ["api"]) {
        self.username = username
        self.scopes = scopes
    }

    /// `api` allows everything; `read_api` only GET and HEAD, as GitLab's `allow_access_with_scope`.
    func allows(method: String) -> Bool {
        scopes.contains("api") || (scopes.contains("read_api") && (method == "GET" || method == "HEAD"))
    }
}
