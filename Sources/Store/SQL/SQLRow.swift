import Foundation

/// One result row, its columns found by name whatever the case the engine reports them in
/// (PostgreSQL folds unquoted names to lower case).
struct SQLRow: Sendable {
    /// The column names of a result, shared by its rows.
    struct Columns: Sendable {
        private let indexes: [String: Int]

        init(_ names: [String]) {
            var indexes: [String: Int] = [:]
            for (index, name) in names.enumerated() {
                indexes[name] = index
                indexes[name.lowercased()] = index
            }
            self.indexes = indexes
        }

        func index(of name: String) -> Int? {
            indexes[name] ?? indexes[name.lowercased()]
        }
    }

    private let columns: Columns
    private let values: [SQLValue]

    init(columns: Columns, values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    private func value(_ column: String) throws -> SQLValue {
        guard let index = columns.index(of: column) else {
            throw SQLDecodingError(column: column, detail: "no such column in the result")
        }
        return values[index]
    }

    func isNull(_ column: String) throws -> Bool { try value(column) == .null }

    func string(_ column: String) throws -> String {
        guard let value = try optionalString(column) else { throw SQLDecodingError(column: column, detail: "unexpected NULL") }
        return value
    }

    func optionalString(_ column: String) throws -> String? {
        switch try value(column) {
        case .null: nil
        case .text(let text): text
        case .integer(let number): String(number)
        default: throw SQLDecodingError(column: column, detail: "not text")
        }
    }

    func int(_ column: String) throws -> Int {
        guard let value = try optionalInt(column) else { throw SQLDecodingError(column: column, detail: "unexpected NULL") }
        return value
    }

    func optionalInt(_ column: String) throws -> Int? {
        switch try value(column) {
        case .null: nil
        case .integer(let number): Int(number)
        case .boolean(let flag): flag ? 1 : 0
        default: throw SQLDecodingError(column: column, detail: "not an integer")
        }
    }

    func int64(_ column: String) throws -> Int64 { Int64(try int(column)) }

    func bool(_ column: String) throws -> Bool {
        switch try value(column) {
        case .boolean(let flag): flag
        case .integer(let number): number != 0
        default: throw SQLDecodingError(column: column, detail: "not a boolean")
        }
    }

    func date(_ column: String) throws -> Date {
        guard let value = try optionalDate(column) else { throw SQLDecodingError(column: column, detail: "unexpected NULL") }
        return value
    }

    func optionalDate(_ column: String) throws -> Date? {
        switch try value(column) {
        case .null: nil
        case .date(let date): date
        case .text(let text):
            if let date = SQLiteDateText.date(from: text) { date } else {
                throw SQLDecodingError(column: column, detail: "not a date: \(text)")
            }
        default: throw SQLDecodingError(column: column, detail: "not a date")
        }
    }

    func enumeration<T: RawRepresentable>(_ column: String, as type: T.Type = T.self) throws -> T where T.RawValue == String {
        let raw = try string(column)
        guard let value = T(rawValue: raw) else { throw SQLDecodingError(column: column, detail: "unknown value \"\(raw)\"") }
        return value
    }

    func optionalEnumeration<T: RawRepresentable>(_ column: String, as type: T.Type = T.self) throws -> T? where T.RawValue == String {
        try isNull(column) ? nil : try enumeration(column, as: type)
    }

    func stringArray(_ column: String) throws -> [String] {
        try JSONArrayColumn.decode(try string(column), column: column)
    }
}

/// A stored value the record cannot take: a sign of a database changed by hand or by a newer sandman.
struct SQLDecodingError: Error, CustomStringConvertible {
    var column: String
    var detail: String
    var description: String { "column \(column): \(detail)" }
}
