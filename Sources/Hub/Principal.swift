import Config
import Crypto
import Foundation
import Store

/// Who is asking: an API token's holder, a Slack user, or the hub itself.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var role: Role
    /// Empty: every team.
    public var teams: [String]
    /// Empty: every cluster.
    public var clusters: [String]
    /// On the production allow-list: may act on production without the admin role.
    public var mayOperateProduction = false

    public init(name: String, role: Role, teams: [String] = [], clusters: [String] = []) {
        self.name = name
        self.role = role
        self.teams = teams
        self.clusters = clusters
    }

    public static let system = Principal(name: "system", role: .admin)

    /// May this principal sleep, wake or override `namespaces` (empty: the whole cluster) of `cluster`?
    /// Operators need every namespace to belong to one of their teams (a whole cluster only
    /// when they have no team restriction); production needs the admin role.
    public func mayOperate(on cluster: ClusterConfiguration, namespaces: [String]) -> Denial? {
        guard role >= .operator else { return .init(reason: "the \(role.rawValue) role may only read") }
        if !clusters.isEmpty, !clusters.contains(cluster.name) {
            return .init(reason: "\(name) may not act on cluster \(cluster.name)")
        }
        if role == .admin { return nil }
        if cluster.tier == .production, !mayOperateProduction {
            return .init(reason: "production needs the admin role")
        }
        guard !teams.isEmpty else { return nil }
        if namespaces.isEmpty {
            return .init(reason: "\(name) may only act on the namespaces of teams \(teams.joined(separator: ", ")); name them")
        }
        for namespace in namespaces {
            guard let team = cluster.team(owning: namespace)?.name, teams.contains(team) else {
                return .init(reason: "namespace \(namespace) does not belong to teams \(teams.joined(separator: ", "))")
            }
        }
        return nil
    }

    public func mayRead(_ cluster: String) -> Bool {
        clusters.isEmpty || clusters.contains(cluster)
    }

    public struct Denial: Error, Sendable, Equatable {
        public var reason: String
    }
}

/// API tokens: random secrets shown once, stored as SHA-256 hashes.
public enum APITokens {
    /// Creates a token; returns the secret to hand out (never stored) and its record.
    public static func create(name: String, role: Role, teams: [String], clusters: [String], in store: Store, now: Date) async throws -> (secret: String, record: APITokenRecord) {
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let secret = "sm_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let record = APITokenRecord(id: String(UUID().uuidString.lowercased().prefix(8)), name: name, hash: hash(secret), role: role.rawValue, teams: teams, clusters: clusters, createdAt: now)
        try await store.save(record)
        return (secret, record)
    }

    /// The id of the token `SANDMAN_BOOTSTRAP_TOKEN` installs.
    public static let bootstrapID = "bootstrap"

    /// Makes the store's bootstrap admin token match `secret`: installed (its hash only) when
    /// given, replaced when the secret changed, revoked when no longer given. A token an admin
    /// revoked stays revoked while the secret is the same. Returns what it did, for the log.
    @discardableResult
    public static func installBootstrap(secret: String?, in store: Store, now: Date) async throws -> BootstrapChange {
        let existing = try await store.tokens().first { $0.id == bootstrapID }
        guard let secret else {
            guard let existing, existing.revokedAt == nil else { return .unchanged }
            try await store.revokeToken(id: bootstrapID, at: now)
            return .revoked
        }
        let digest = hash(secret)
        if let existing, existing.hash == digest { return .unchanged }
        let record = APITokenRecord(id: bootstrapID, name: bootstrapID, hash: digest, role: Role.admin.rawValue, teams: [], clusters: [], createdAt: now)
        try await store.save(record)
        return existing == nil ? .installed : .replaced
    }

    public enum BootstrapChange: String, Sendable {
        case installed, replaced, revoked, unchanged
    }

    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The principal of a bearer token, nil when unknown or revoked.
    public static func principal(for secret: String, in store: Store) async throws -> Principal? {
        guard let record = try await store.token(hash: hash(secret)), let role = Role(rawValue: record.role) else { return nil }
        return Principal(name: record.name, role: role, teams: record.teams, clusters: record.clusters)
    }
}
