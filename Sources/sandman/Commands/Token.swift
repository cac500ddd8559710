import ArgumentParser
import Config
import Foundation
import Hub
import Logging
import Store

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API tokens (in the hub's database).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token and print it once.")
        @OptionGroup var config: ConfigOption
        @Option(help: "viewer, operator or admin.") var role: Role
        @Option(help: "Name shown in the audit trail.") var name: String = "token"
        @Option(help: "Comma-separated teams the token may act for (operators).") var teams: String?
        @Option(help: "Comma-separated clusters the token may see and act on.") var clusters: String?

        func run() async throws {
            let store = try await openStore(config.config)
            let split = { (text: String?) in text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } } ?? [] }
            let (secret, record) = try await APITokens.create(name: name, role: role, teams: split(teams), clusters: split(clusters), in: store, now: Date())
            try await store.record(localAudit(action: "token-create", target: record.id, detail: "\(record.name), \(record.role)"))
            print(secret)
            printError("token \(record.id) (\(record.name), \(record.role)) created; it is shown only once")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every token: id, name, role, scope, when created, whether revoked.")
        @OptionGroup var config: ConfigOption

        func run() async throws {
            let store = try await openStore(config.config)
            let rows = try await store.tokens().map { token in
                [token.id, token.name, token.role, token.teams.joined(separator: ","), token.clusters.joined(separator: ","), token.createdAt.formatted(.iso8601), token.revokedAt.map { "revoked \($0.formatted(.iso8601))" } ?? "active"]
            }
            print(Report.table(["ID", "NAME", "ROLE", "TEAMS", "CLUSTERS", "CREATED", "STATE"], rows))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: the hub refuses it (401) from the next request.")
        @OptionGroup var config: ConfigOption
        @Argument(help: "Token id.") var id: String

        func run() async throws {
            let store = try await openStore(config.config)
            guard try await store.revokeToken(id: id, at: Date()) else {
                printError("no active token \(id)")
                throw ExitCode(1)
            }
            try await store.record(localAudit(action: "token-revoke", target: id, detail: ""))
            print("token \(id) revoked")
        }
    }
}

extension Role: ExpressibleByArgument {}

/// An audit row for a change made on the hub's machine, by whoever ran the command.
private func localAudit(action: String, target: String, detail: String) -> AuditEntry {
    let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown"
    return AuditEntry(at: Date(), actor: "local:\(user)", source: "cli", action: action, target: target, result: "ok", detail: detail)
}

/// The store named by a configuration file, with clear errors.
func openStore(_ configPath: String) async throws -> Store {
    let configuration = try loadConfiguration(configPath)
    do {
        return try await Store(location: configuration.database, logger: Logger(label: "sandman.store"))
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}
