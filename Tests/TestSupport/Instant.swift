import Foundation

/// A moment written as ISO 8601, e.g. `instant("2027-01-04T20:00:00Z")`.
public func instant(_ text: String) -> Date {
    try! Date(text, strategy: .iso8601)
}
