import Foundation
internal import GRDB

/// The store in one SQLite file in WAL mode, through a GRDB pool: readers never block the writer.
final class SQLiteBackend: StoreBackend {
    let pool: DatabasePool
    let path: String
    var resetsGeneratedIDs: Bool { false }

    init(path: String) throws(StoreError) {
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
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError(opening: path, error)
        }
        do {
            try pool.read { db in
                if try Schema.sqlite.hasBeenSuperseded(db) {
                    let applied = try Schema.sqlite.appliedIdentifiers(db).sorted().joined(separator: ", ")
                    throw StoreError(path: path, reason: .newerSchema, detail: "applied migrations: \(applied)")
                }
            }
            try Schema.sqlite.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(opening: path, error)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await pool.read { db in try body(SQLiteSession(db: db)) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await pool.write { db in try body(SQLiteSession(db: db)) }
    }

    func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try Schema.sqlite.completedMigrations(db) }
    }

    func close() async {
        try? pool.close()
    }

    /// Writes a consistent copy of the live database to `destination`.
    func backup(to destination: String) throws {
        let target = try DatabaseQueue(path: destination)
        try pool.backup(to: target)
    }
}

/// A GRDB connection inside one of its transactions.
struct SQLiteSession: SQLSession {
    let db: Database

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        statement.arguments = StatementArguments(arguments.map(Self.databaseValue))
        let columns = SQLRow.Columns(statement.columnNames)
        let count = statement.columnCount
        return try Row.fetchCursor(statement).map { row in
            SQLRow(columns: columns, values: (0..<count).map { Self.value(row[$0] as DatabaseValue) })
        }.reduce(into: []) { $0.append($1) }
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try db.execute(sql: sql, arguments: StatementArguments(arguments.map(Self.databaseValue)))
        return db.changesCount
    }

    private static func databaseValue(_ value: SQLValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let number): number.databaseValue
        case .text(let text): text.databaseValue
        case .boolean(let flag): flag.databaseValue
        case .date(let date): SQLiteDateText.string(from: date).databaseValue
        }
    }

    private static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let number): .integer(number)
        case .double(let number): .integer(Int64(number))
        case .string(let text): .text(text)
        case .blob(let data): .text(String(decoding: data, as: UTF8.self))
        }
    }
}
