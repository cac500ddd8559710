/// What a principal (API token or Slack user) may do. Each role includes the ones before it.
public enum Role: String, Sendable, CaseIterable, Comparable, Codable {
    /// Reads state, schedules, operations and audit.
    case viewer
    /// Also sleeps, wakes and overrides within its teams and clusters.
    case `operator`
    /// Everything, everywhere, including production and token management.
    case admin

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .operator: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}
