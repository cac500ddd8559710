import Foundation

/// How many replicas a partial sleep leaves running: a number, or a share of the replicas the
/// workload had. Never more than it had: a sleep does not scale anything up.
public enum DowntimeReplicas: Sendable, Hashable, CustomStringConvertible {
    case count(Int)
    /// Percent of the replicas the workload had, rounded up: `50%` of 3 keeps 2.
    case percent(Int)

    /// `"1"`, `"50%"`; nil for anything else (a negative number, a share over 100%).
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%") {
            guard let share = Int(trimmed.dropLast()), (0...100).contains(share) else { return nil }
            self = .percent(share)
        } else {
            guard let count = Int(trimmed), count >= 0 else { return nil }
            self = .count(count)
        }
    }

    public static let expected = "a number of replicas or a percentage of them, such as \"1\" or \"50%\""

    public var description: String {
        switch self {
        case .count(let count): "\(count)"
        case .percent(let share): "\(share)%"
        }
    }

    /// The replicas kept of `original`.
    public func replicas(of original: Int) -> Int {
        switch self {
        case .count(let count): min(count, original)
        case .percent(let share): min(original, (original * share + 99) / 100)
        }
    }
}
