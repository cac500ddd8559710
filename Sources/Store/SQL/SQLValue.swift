import Foundation

/// A value bound to, or read from, a statement the same way on SQLite and PostgreSQL.
///
/// Dates keep millisecond precision on both engines (SQLite stores them as
/// `yyyy-MM-dd HH:mm:ss.SSS` UTC text, as GRDB always did; PostgreSQL as `timestamptz(3)`), so a
/// date written on either backend reads back equal.
enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case boolean(Bool)
    case date(Date)

    /// The date rounded to the millisecond, as both engines keep it.
    static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    static func milliseconds(of date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}

/// Swift values a statement binds.
protocol SQLBindable {
    var sqlValue: SQLValue { get }
}

extension String: SQLBindable { var sqlValue: SQLValue { .text(self) } }
extension Int: SQLBindable { var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { var sqlValue: SQLValue { .integer(self) } }
extension Bool: SQLBindable { var sqlValue: SQLValue { .boolean(self) } }
extension Date: SQLBindable { var sqlValue: SQLValue { .date(self) } }
extension SQLValue: SQLBindable { var sqlValue: SQLValue { self } }

extension Optional: SQLBindable where Wrapped: SQLBindable {
    var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

extension SQLBindable where Self: RawRepresentable, RawValue == String {
    var sqlValue: SQLValue { .text(rawValue) }
}

extension OperationRecord.State: SQLBindable {}
extension OverrideRecord.Kind: SQLBindable {}
extension OverrideRecord.EndReason: SQLBindable {}
extension JournalEntry.State: SQLBindable {}
extension GitOpsChangeRecord.Stage: SQLBindable {}
extension GitOpsChangeRecord.State: SQLBindable {}

/// A list of strings stored as a JSON array in a text column (`["web","shop"]`).
enum JSONArrayColumn {
    static func encode(_ values: [String]) -> SQLValue {
        let data = (try? JSONEncoder().encode(values)) ?? Data("[]".utf8)
        return .text(String(decoding: data, as: UTF8.self))
    }

    static func decode(_ text: String, column: String) throws -> [String] {
        do {
            return try JSONDecoder().decode([String].self, from: Data(text.utf8))
        } catch {
            throw SQLDecodingError(column: column, detail: "not a JSON array of strings: \(text)")
        }
    }
}
