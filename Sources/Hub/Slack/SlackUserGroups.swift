import Config
import Foundation
import JSON
import Logging
import Transport

/// Members of the Slack user groups that `slack.principals` name, looked up with the Web API's
/// `usergroups.users.list` (bot token, scope `usergroups:read`), since Slack does not send a
/// user's groups with a command. Lists are cached: Slack rate-limits that method and a command
/// must be answered within 3 seconds. When a lookup fails, the last list known stays in use (none
/// at first: nobody is taken for a member) for a while before the next try, and the failure is
/// logged.
actor SlackUserGroups {
    private struct Entry {
        var members: Set<String> = []
        /// When the list was last fetched, or a fetch last failed: either way good until `maxAge`
        /// or `retryAfterFailure` later, so a group Slack does not know costs one call, not one
        /// per command.
        var checkedAt: ContinuousClock.Instant
        var failed = false
    }

    private let settings: HubConfiguration.Slack
    private let http: HTTPClient
    private let logger: Logger
    private let maxAge: Duration
    private let retryAfterFailure: Duration
    private var cache: [String: Entry] = [:]
    private var inFlight: [String: Task<Set<String>?, Never>] = [:]

    init(settings: HubConfiguration.Slack, maxAge: Duration = .minutes(5), retryAfterFailure: Duration = .seconds(30), logger: Logger) {
        self.settings = settings
        self.maxAge = maxAge
        self.retryAfterFailure = retryAfterFailure
        named = Array(Set(settings.principals.flatMap(\.userGroups))).sorted()
        self.logger = logger
        http = HTTPClient(configuration: .init(timeout: .milliseconds(1500), userAgent: "sandman-slack"))
        if settings.botToken == nil, settings.principals.contains(where: { !$0.userGroups.isEmpty }) {
            logger.warning("slack.principals name user groups, but without slack.botToken (SANDMAN_SLACK_BOT_TOKEN) their members cannot be looked up: nobody counts as a member")
        }
    }

    /// Every group named in the principals.
    private let named: [String]

    /// The groups among those the principals name that `user` belongs to. Groups are looked up
    /// in parallel, so a slow Slack costs one timeout, not one per group.
    func groups(of user: String) async -> Set<String> {
        let lookups = named.map { group in Task { await self.members(of: group).contains(user) ? group : nil } }
        var found: Set<String> = []
        for lookup in lookups {
            if let group = await lookup.value { found.insert(group) }
        }
        return found
    }

    private func members(of group: String) async -> Set<String> {
        if let entry = cache[group], ContinuousClock.now - entry.checkedAt < (entry.failed ? retryAfterFailure : maxAge) {
            return entry.members
        }
        let task = inFlight[group] ?? Task { await fetch(group) }
        inFlight[group] = task
        let fetched = await task.value
        inFlight[group] = nil
        let known = fetched ?? cache[group]?.members ?? []
        cache[group] = Entry(members: known, checkedAt: .now, failed: fetched == nil)
        return known
    }

    private func fetch(_ group: String) async -> Set<String>? {
        guard let token = settings.botToken else { return nil }
        let query = group.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? group
        do {
            let response = try await http.send(HTTPRequest(url: settings.apiURL + "/usergroups.users.list?usergroup=\(query)", headers: ["Authorization": "Bearer \(token)"]))
            let body = try? JSONValue(parsing: response.body)
            guard response.status == 200, body?["ok"] == true, let users = body?["users"]?.array else {
                let reason = body?["error"]?.string ?? "HTTP \(response.status)"
                logger.warning("Slack user group lookup failed", metadata: ["group": "\(group)", "error": "\(reason)"])
                return nil
            }
            return Set(users.compactMap(\.string))
        } catch {
            logger.warning("Slack user group lookup failed", metadata: ["group": "\(group)", "error": "\(error)"])
            return nil
        }
    }
}
