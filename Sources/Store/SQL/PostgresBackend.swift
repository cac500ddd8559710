import Foundation
import Logging
internal import NIOCore
internal import NIOPosix
internal import NIOSSL
internal import PostgresNIO

/// The store in a PostgreSQL database shared by every replica of the hub.
///
/// The record logic is synchronous (as GRDB's transactions are), so each transaction runs on a
/// thread of this backend's own pool and waits there for postgres-nio's futures; the cooperative
/// pool never blocks. Write transactions take a transaction-level advisory lock first: writers are
/// serialized across replicas as SQLite serializes them in one process.
final class PostgresBackend: StoreBackend {
    /// Advisory lock keys (`pg_advisory_lock`), fixed so that every replica agrees on them.
    enum LockKey {
        static let migrations: Int64 = 0x5341_4E44_4D41_4E01
        static let writes: Int64 = 0x5341_4E44_4D41_4E02
    }

    let location: PostgresLocation
    var resetsGeneratedIDs: Bool { true }
    private let pool: PostgresConnectionPool
    private let threads: NIOThreadPool
    /// How to open a connection of its own (the listener of work announcements).
    let connectionConfiguration: PostgresConnection.Configuration
    let logger: Logger

    init(location: PostgresLocation, logger: Logger) async throws(StoreError) {
        self.location = location
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try Self.configuration(location)
        } catch {
            throw StoreError(location: location, reason: .cannotOpen, detail: "cannot set up TLS: \(error)")
        }
        connectionConfiguration = configuration
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: location.poolSize)
        threads.start()
        pool = PostgresConnectionPool(configuration: configuration, size: location.poolSize, logger: logger)
        do {
            try await migrate()
        } catch {
            await close()
            throw error as? StoreError ?? StoreError(location: location, error)
        }
    }

    private static func configuration(_ location: PostgresLocation) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch location.tls {
        case .disable:
            tls = .disable
        case .require:
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.certificateVerification = .none
            tls = .require(try NIOSSLContext(configuration: settings))
        case .verifyFull:
            tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    // MARK: transactions

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await transaction(begin: ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"], body)
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await transaction(begin: ["BEGIN", "SELECT pg_advisory_xact_lock(\(LockKey.writes))"], body)
    }

    private func transaction<T: Sendable>(begin: [String], _ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await withConnection { session in
            for statement in begin { try session.execute(statement, []) }
            do {
                let result = try body(session)
                try session.execute("COMMIT", [])
                return result
            } catch {
                do {
                    try session.execute("ROLLBACK", [])
                } catch {
                    // Not reusable in an unknown transaction state.
                    try? session.connection.close().wait()
                }
                throw error
            }
        }
    }

    /// Runs `body` on one of this backend's threads with a pooled connection. A connection whose
    /// transaction could not be ended cleanly is closed rather than reused.
    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        let connection = try await pool.lease()
        let logger = pool.logger
        do {
            let result = try await threads.runIfActive { try body(PostgresSession(connection: connection, logger: logger)) }
            await pool.release(connection)
            return result
        } catch {
            await pool.release(connection)
            throw error
        }
    }

    // MARK: migrations

    func appliedMigrations() async throws -> [String] {
        try await read { session in try Self.applied(session) }
    }

    private static func applied(_ session: any SQLSession) throws -> [String] {
        try session.query("SELECT identifier FROM \(PostgresSchema.table) ORDER BY position", []).map { try $0.string("identifier") }
    }

    /// Applies the migrations this database lacks, each in its own transaction, holding a
    /// session-level advisory lock so that replicas starting together apply each one once.
    private func migrate() async throws {
        let location = location
        try await withConnection { session in
            try session.execute("SELECT pg_advisory_lock(\(LockKey.migrations))", [])
            defer { _ = try? session.execute("SELECT pg_advisory_unlock(\(LockKey.migrations))", []) }
            try session.execute("""
                CREATE TABLE IF NOT EXISTS \(PostgresSchema.table) (
                    identifier TEXT PRIMARY KEY, position INTEGER NOT NULL, appliedAt TIMESTAMPTZ NOT NULL DEFAULT now())
                """, [])
            let applied = try Self.applied(session)
            let known = PostgresSchema.migrations.map(\.identifier)
            if applied.contains(where: { !known.contains($0) }) {
                throw StoreError(location: location, reason: .newerSchema, detail: "applied migrations: \(applied.joined(separator: ", "))")
            }
            for (position, migration) in PostgresSchema.migrations.enumerated() where !applied.contains(migration.identifier) {
                try session.execute("BEGIN", [])
                do {
                    for statement in migration.statements { try session.execute(statement, []) }
                    try session.execute(
                        "INSERT INTO \(PostgresSchema.table) (identifier, position) VALUES (?, ?)", [.text(migration.identifier), .integer(Int64(position))]
                    )
                    try session.execute("COMMIT", [])
                } catch {
                    try? session.execute("ROLLBACK", [])
                    throw error
                }
            }
        }
    }

    func close() async {
        await pool.close()
        try? await threads.shutdownGracefully()
    }

    deinit {
        // A store dropped without `close()`: its idle connections close with the pool.
        threads.shutdownGracefully { _ in }
    }
}

/// One PostgreSQL connection used synchronously from a thread of the backend's pool.
struct PostgresSession: SQLSession {
    let connection: PostgresConnection
    let logger: Logger

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let rows = try run(sql, arguments).rows
        guard let first = rows.first else { return [] }
        let columns = SQLRow.Columns(first.map(\.columnName))
        return try rows.map { row in SQLRow(columns: columns, values: try row.map(Self.value)) }
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try run(sql, arguments).metadata.rows ?? 0
    }

    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQueryResult {
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .null: bindings.appendNull()
            case .integer(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .boolean(let flag): bindings.append(flag)
            case .date(let date): bindings.append(MillisecondTimestamp(milliseconds: SQLValue.milliseconds(of: date)))
            }
        }
        let query = PostgresQuery(unsafeSQL: Self.numberingPlaceholders(sql), binds: bindings)
        return try connection.query(query, logger: logger).wait()
    }

    /// `?` placeholders become `$1`, `$2`, ... (the module's SQL holds no `?` in literals).
    static func numberingPlaceholders(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.utf8.count + 8)
        var index = 0
        for character in sql {
            if character == "?" {
                index += 1
                result += "$\(index)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Reads a cell's binary value directly (postgres-nio's generic decoding is slow in debug builds).
    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard var bytes = cell.bytes else { return .null }
        let value: SQLValue? = switch cell.dataType {
        case .bool: bytes.readInteger(as: UInt8.self).map { .boolean($0 != 0) }
        case .int2: bytes.readInteger(as: Int16.self).map { .integer(Int64($0)) }
        case .int4: bytes.readInteger(as: Int32.self).map { .integer(Int64($0)) }
        case .int8: bytes.readInteger(as: Int64.self).map { .integer($0) }
        case .timestamptz, .timestamp:
            // Microseconds from 2000-01-01, rounded to the stored millisecond.
            bytes.readInteger(as: Int64.self).map { .date(SQLValue.date(milliseconds: Int64((Double($0) / 1000).rounded()) + 946_684_800_000)) }
        case .void: .null
        default: cell.format == .binary || cell.format == .text ? bytes.readString(length: bytes.readableBytes).map { .text($0) } : nil
        }
        guard let value else {
            throw SQLDecodingError(column: cell.columnName, detail: "cannot read a value of type \(cell.dataType)")
        }
        return value
    }
}

/// A `timestamptz` bound as exact whole milliseconds: postgres-nio's own `Date` encoding goes
/// through a `Double` of microseconds and can land a microsecond short, which a comparison with
/// the stored (millisecond) value would see.
struct MillisecondTimestamp: PostgresNonThrowingEncodable {
    /// Milliseconds since 1970.
    var milliseconds: Int64

    static var psqlType: PostgresDataType { .timestamptz }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        // PostgreSQL counts microseconds from 2000-01-01, 946,684,800 s after 1970.
        byteBuffer.writeInteger((milliseconds - 946_684_800_000) * 1000)
    }
}
