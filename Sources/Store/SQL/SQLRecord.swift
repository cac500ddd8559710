/// A record stored as one row of one table, read and written with plain SQL on both engines.
protocol SQLRecord: Sendable {
    static var table: String { get }
    /// The columns of the primary key, for `update` and `save`.
    static var primaryKey: [String] { get }
    init(row: SQLRow) throws
    /// Every column but a generated id, with its value.
    var columns: [(String, SQLValue)] { get }
    /// Columns the insert fills with an SQL expression (an ordering sequence).
    static var computedOnInsert: [(column: String, expression: String)] { get }
}

extension SQLRecord {
    static var computedOnInsert: [(column: String, expression: String)] { [] }
}

extension SQLSession {
    /// Inserts a record; `id`, when given, is written to the `id` column the table otherwise generates.
    func insert<Record: SQLRecord>(_ record: Record, id: Int64? = nil) throws {
        let columns = record.columns + (id.map { [("id", SQLValue.integer($0))] } ?? [])
        let extra = Record.computedOnInsert
        let names = (columns.map(\.0) + extra.map(\.0)).joined(separator: ", ")
        let values = (Array(repeating: "?", count: columns.count) + extra.map(\.1)).joined(separator: ", ")
        try execute("INSERT INTO \(Record.table) (\(names)) VALUES (\(values))", columns.map(\.1))
    }

    /// Inserts a record whose table generates its `id`; returns the id.
    func insertReturningID<Record: SQLRecord>(_ record: Record, onConflictDoNothing: Bool = false) throws -> Int64? {
        let columns = record.columns
        let conflict = onConflictDoNothing ? " ON CONFLICT DO NOTHING" : ""
        let sql = """
            INSERT INTO \(Record.table) (\(columns.map(\.0).joined(separator: ", "))) \
            VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))\(conflict) RETURNING id
            """
        return try query(sql, columns.map(\.1)).first.map { try $0.int64("id") }
    }

    /// Updates the row with the record's primary key; returns whether it existed.
    @discardableResult
    func update<Record: SQLRecord>(_ record: Record, id: SQLValue? = nil) throws -> Bool {
        let columns = record.columns
        let key = Record.primaryKey
        let values = Dictionary(uniqueKeysWithValues: columns)
        let settings = columns.filter { !key.contains($0.0) }
        let keyValues = try key.map { name in
            if let value = values[name] { return value }
            guard let id else { throw SQLDecodingError(column: name, detail: "no value for the primary key") }
            return id
        }
        let sql = "UPDATE \(Record.table) SET \(settings.map { "\($0.0) = ?" }.joined(separator: ", ")) WHERE "
            + key.map { "\($0) = ?" }.joined(separator: " AND ")
        return try execute(sql, settings.map(\.1) + keyValues) > 0
    }

    /// Inserts the record, or updates the row with its primary key.
    func save<Record: SQLRecord>(_ record: Record) throws {
        if try !update(record) { try insert(record) }
    }
}
