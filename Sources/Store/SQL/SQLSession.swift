/// Statements run inside one transaction of a `StoreBackend`, the same SQL on both engines.
///
/// Statements use `?` placeholders; the PostgreSQL session numbers them. The record logic of
/// this module is written once against this protocol:
///
/// ```swift
/// try await backend.write { session in
///     try session.execute("UPDATE apiToken SET revokedAt = ? WHERE id = ?", [now.sqlValue, id.sqlValue])
/// }
/// ```
protocol SQLSession {
    /// Runs a statement and returns its rows.
    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Runs a statement and returns how many rows it changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int
}

extension SQLSession {
    func query(_ sql: String, _ arguments: [any SQLBindable] = []) throws -> [SQLRow] {
        try query(sql, arguments.map(\.sqlValue))
    }

    @discardableResult
    func execute(_ sql: String, _ arguments: [any SQLBindable] = []) throws -> Int {
        try execute(sql, arguments.map(\.sqlValue))
    }

    func fetchAll<Record: SQLRecord>(_ type: Record.Type, _ sql: String, _ arguments: [any SQLBindable] = []) throws -> [Record] {
        try query(sql, arguments).map(Record.init(row:))
    }

    func fetchOne<Record: SQLRecord>(_ type: Record.Type, _ sql: String, _ arguments: [any SQLBindable] = []) throws -> Record? {
        try query(sql, arguments).first.map(Record.init(row:))
    }

    func fetchCount(_ sql: String, _ arguments: [any SQLBindable] = []) throws -> Int {
        try query(sql, arguments).first?.int("count") ?? 0
    }
}

/// Where the store's data lives and how its transactions run: SQLite through GRDB, or PostgreSQL
/// through postgres-nio. Writes are serialized on both (one writer at a time, across every
/// replica on PostgreSQL), so that read-then-write logic behaves the same.
protocol StoreBackend: Sendable {
    /// Runs `body` in a read-only transaction that sees one consistent state.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// Runs `body` in a write transaction, committed when it returns and rolled back when it throws.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// The migrations applied, oldest first.
    func appliedMigrations() async throws -> [String]
    /// Releases connections; the backend is not used afterwards.
    func close() async

    /// Whether ids written explicitly leave the table's id generator behind (PostgreSQL's
    /// identity sequences; SQLite's AUTOINCREMENT follows by itself).
    var resetsGeneratedIDs: Bool { get }
}
