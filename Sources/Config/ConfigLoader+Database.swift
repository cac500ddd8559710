import Foundation
import Store
import Yams

extension ConfigLoader {
    /// `database:` is a SQLite path, a `postgres://` URL, or a mapping
    /// `{url, passwordFile, sslmode, poolSize}`. `SANDMAN_DATABASE_URL` (a URL with its password)
    /// overrides the URL; `SANDMAN_DATABASE` overrides the whole value. Errors never repeat a URL,
    /// which may hold the password.
    static func readDatabase(_ node: ConfigNode, directory: URL, environment: [String: String]) -> StoreLocation {
        let fallback = StoreLocation.sqlite(path: absolute("sandman.sqlite", relativeTo: directory))
        if let text = environment[Environment.databaseURL].flatMap({ $0.isEmpty ? nil : $0 }) {
            return postgres(text, node: node, origin: Environment.databaseURL, options: mappingOptions(node)) ?? fallback
        }
        if let text = environment[Environment.database].flatMap({ $0.isEmpty ? nil : $0 }) {
            return isPostgresURL(text)
                ? postgres(text, node: node, origin: Environment.database, options: .init()) ?? fallback
                : .sqlite(path: absolute(text, relativeTo: directory))
        }
        guard node.isPresent else { return fallback }
        if case .mapping = node.node {
            let options = mappingOptions(node)
            guard let url = node["url"].nonEmptyString() else {
                node["url"].report("is required: a postgres:// URL (or set \(Environment.databaseURL))")
                return fallback
            }
            return postgres(url, node: node["url"], origin: nil, options: options) ?? fallback
        }
        guard let text = node.nonEmptyString() else { return fallback }
        return isPostgresURL(text) ? postgres(text, node: node, origin: nil, options: .init()) ?? fallback : .sqlite(path: absolute(text, relativeTo: directory))
    }

    /// Settings of the mapping form that are not in the URL.
    private struct PostgresOptions {
        var password: String?
        var tls: PostgresLocation.TLSMode?
        var poolSize: Int?
    }

    private static func mappingOptions(_ node: ConfigNode) -> PostgresOptions {
        guard case .mapping = node.node else { return PostgresOptions() }
        var options = PostgresOptions()
        _ = node["url"]
        let passwordFile = node["passwordFile"]
        if let path = passwordFile.nonEmptyString() {
            do {
                options.password = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .newlines)
            } catch {
                passwordFile.report("cannot read the password file \(path): \(error.localizedDescription)")
            }
        }
        if node["sslmode"].isPresent { options.tls = node["sslmode"].oneOf(PostgresLocation.TLSMode.self) }
        if node["poolSize"].isPresent { options.poolSize = node["poolSize"].int(default: 8, in: 1...100) }
        node.rejectUnknownFields()
        return options
    }

    private static func isPostgresURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    private static func postgres(_ text: String, node: ConfigNode, origin: String?, options: PostgresOptions) -> StoreLocation? {
        do {
            var location = try PostgresLocation(url: text)
            // A password in the URL (from the environment) wins over the file.
            if location.password == nil { location.password = options.password }
            if let tls = options.tls { location.tls = tls }
            if let poolSize = options.poolSize { location.poolSize = poolSize }
            return .postgres(location)
        } catch {
            node.report("\(origin.map { "\($0): " } ?? "")\(error.description)")
            return nil
        }
    }
}
