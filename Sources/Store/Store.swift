import Foundation
internal import GRDB
import Logging
internal import PostgresNIO

/// The hub's own durable state: the sleep journal, overrides, operations, audit, API tokens and
/// the notification outbox. In one SQLite file (WAL mode) by default, or in a PostgreSQL database
/// that several replicas share; the same record logic and migrations run on both.
///
/// Every access is async; transactions run on the backend's own threads.
public final class Store: Sendable {
    let backend: any StoreBackend
    /// Where the data lives (a PostgreSQL location shows no password).
    public let location: StoreLocation

    /// Opens (creating when missing) the SQLite database at `path` and brings its schema up to
    /// date. Throws a `StoreError` naming the path when the file cannot be opened, is not a
    /// SQLite database, or was written by a newer version of sandman.
    public init(path: String) throws(StoreError) {
        backend = try SQLiteBackend(path: path)
        location = .sqlite(path: path)
    }

    /// Opens the store at `location` and brings its schema up to date; on PostgreSQL, replicas
    /// starting together apply each migration once.
    public init(location: StoreLocation, logger: Logger) async throws(StoreError) {
        switch location {
        case .sqlite(let path): backend = try SQLiteBackend(path: path)
        case .postgres(let postgres): backend = try await PostgresBackend(location: postgres, logger: logger)
        }
        self.location = location
    }

    /// Whether other hub replicas may share this store: a PostgreSQL database. A SQLite file is
    /// one replica's own.
    public var isShared: Bool { location.isShared }

    /// The migrations applied to this database, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await backend.appliedMigrations()
    }

    /// Writes a consistent copy of a SQLite database to `destination` while the hub keeps running.
    /// A PostgreSQL store is backed up with `pg_dump` (docs/operations.md): this throws saying so.
    public func backup(to destination: String) async throws {
        guard let sqlite = backend as? SQLiteBackend else {
            throw StoreError(
                path: location.description, reason: .unsupported,
                detail: "sandman backup copies SQLite databases only; back up PostgreSQL with pg_dump (see docs/operations.md, \"Backups\")"
            )
        }
        try sqlite.backup(to: destination)
    }

    /// Closes the store's connections; it is not used afterwards.
    public func close() async {
        await backend.close()
    }
}

/// Where a store keeps its data.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file, created when missing.
    case sqlite(path: String)
    /// A PostgreSQL database, shared by every replica.
    case postgres(PostgresLocation)

    /// Whether several hub replicas may use this store at once.
    public var isShared: Bool {
        if case .postgres = self { true } else { false }
    }

    /// The path, or the PostgreSQL URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.description
        }
    }
}

/// Why the store could not be used, with the database (a path, or a URL without password).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case cannotOpen
        case notADatabase
        case newerSchema
        /// The operation does not exist for this backend.
        case unsupported
        /// A copy's target already holds data.
        case notEmpty
    }

    public var path: String
    public var reason: Reason
    public var detail: String

    public init(path: String, reason: Reason, detail: String) {
        self.path = path
        self.reason = reason
        self.detail = detail
    }

    init(location: PostgresLocation, reason: Reason, detail: String) {
        self.init(path: location.description, reason: reason, detail: detail)
    }

    init(opening path: String, _ error: any Error) {
        let code = (error as? DatabaseError)?.resultCode
        switch code {
        case .SQLITE_NOTADB?, .SQLITE_CORRUPT?:
            self.init(path: path, reason: .notADatabase, detail: "the file is not a SQLite database or is corrupt; restore it from a backup or move it away")
        case .SQLITE_CANTOPEN?, .SQLITE_READONLY?, .SQLITE_PERM?, .SQLITE_IOERR?:
            self.init(path: path, reason: .cannotOpen, detail: "cannot open or write the file (check that the directory exists and is writable): \((error as? DatabaseError)?.message ?? "\(error)")")
        default:
            self.init(path: path, reason: .cannotOpen, detail: "\(error)")
        }
    }

    /// A PostgreSQL failure, with the server's own message when there is one (never the password).
    init(location: PostgresLocation, _ error: any Error) {
        let detail: String
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                detail = "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
            } else if let underlying = error.underlying {
                detail = "cannot connect: \(underlying)"
            } else {
                detail = "\(error.code)"
            }
        } else {
            detail = "\(error)"
        }
        self.init(location: location, reason: .cannotOpen, detail: detail)
    }

    public var description: String {
        switch reason {
        case .cannotOpen, .notADatabase, .unsupported, .notEmpty: "database \(path): \(detail)"
        case .newerSchema: "database \(path) was written by a newer sandman; upgrade sandman or restore an older backup (\(detail))"
        }
    }
}
