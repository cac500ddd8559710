/// The kinds of plugin, each found at its own place in the plugin directory and exporting one hook.
public enum PluginKind: String, Sendable, CaseIterable, Comparable {
    /// `policy/*.lua`, exporting `decide(ctx)`; consulted for every namespace, in file order.
    case policy
    /// `teams/<team>.lua`, exporting `decide(ctx)`; consulted after the policies, for that team only.
    case team
    /// `slack/commands.lua`, exporting `handle(cmd)`.
    case slackCommands = "slack"
    /// `notify/*.lua`, exporting `format(event)`.
    case notify

    /// The function the file must export.
    public var hook: String {
        switch self {
        case .policy, .team: "decide"
        case .slackCommands: "handle"
        case .notify: "format"
        }
    }

    /// The kind of the plugin at `path` (relative to the plugin directory, `/`-separated), or nil
    /// when the file is not a plugin: outside the four places, hidden, or a `*_test.lua` file.
    public init?(path: String) {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard components.count == 2, let name = components.last, name.hasSuffix(".lua"), !name.hasPrefix("."),
              !name.hasSuffix("_test.lua"), name.count > 4
        else { return nil }
        switch components[0] {
        case "policy": self = .policy
        case "teams": self = .team
        case "slack" where name == "commands.lua": self = .slackCommands
        case "notify": self = .notify
        default: return nil
        }
    }

    /// The directories plugins live in, relative to the plugin directory.
    static var directories: [String] { ["policy", "teams", "slack", "notify"] }

    public static func < (lhs: PluginKind, rhs: PluginKind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
