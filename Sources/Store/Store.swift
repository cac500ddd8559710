import Foundation
import GRDB

/// The hub's own durable state in one SQLite file (WAL mode): the sleep journal, overrides,
/// operations, audit, API tokens and the notification outbox.
///
/// Readers never block the writer; every access is async and runs on GRDB's own threads.
public final class Store: Sendable {
    /// The GRDB connection pool, for the record extensions of this module and for tests.
    package let writer: DatabasePool
    public let path: String

    /// Opens (creating when missing) the database at `path` and brings its schema up to date.
    /// Throws a `StoreError` naming the path when the file cannot be opened, is not a SQLite
    /// database, or was written by a newer version of sandman.
    public init(path: String) throws(StoreError) {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(path: path, reason: .cannotOpen, detail: "cannot create directory \(directory): \(error.localizedDescription)")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            writer = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError(opening: path, error)
        }
        do {
            try writer.read { db in
                if try Schema.migrator.hasBeenSuperseded(db) {
                    throw StoreError(path: path, reason: .newerSchema, detail: "applied migrations: \(try Schema.migrator.appliedIdentifiers(db).sorted().joined(separator: ", "))")
                }
            }
            try Schema.migrator.migrate(writer)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(opening: path, error)
        }
    }

    /// The migrations applied to this database, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await writer.read { db in try Schema.migrator.completedMigrations(db) }
    }

    /// Writes a consistent copy of the database to `destination` while the hub keeps running.
    public func backup(to destination: String) async throws {
        let target = try DatabaseQueue(path: destination)
        try writer.backup(to: target)
    }
}

/// Why the store could not be used, with the database path.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case cannotOpen
        case notADatabase
        case newerSchema
    }

    public var path: String
    public var reason: Reason
    public var detail: String

    public init(path: String, reason: Reason, detail: String) {
        self.path = path
        self.reason = reason
        self.detail = detail
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

    public var description: String {
        switch reason {
        case .cannotOpen: "database \(path): \(detail)"
        case .notADatabase: "database \(path): \(detail)"
        case .newerSchema: "database \(path) was written by a newer sandman; upgrade sandman or restore an older backup (\(detail))"
        }
    }
}
