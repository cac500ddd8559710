import JSON

/// What the Slack command plugin made of a slash command: actions for the hub to authorize and
/// perform, and the reply to show.
public struct SlackCommandOutcome: Sendable {
    public var actions: [SlackAction]
    /// A Slack message: `text`, optional `blocks` and `response_type` (`ephemeral` or `in_channel`).
    public var response: JSONValue
    /// Set when the plugin failed and ``response`` is the generic fallback reply.
    public var failure: PluginError?

    public init(actions: [SlackAction], response: JSONValue, failure: PluginError? = nil) {
        self.actions = actions
        self.response = response
        self.failure = failure
    }

    /// The reply used when the plugin is missing, fails or is too slow: ephemeral, no actions.
    public static func fallback(_ failure: PluginError) -> SlackCommandOutcome {
        SlackCommandOutcome(
            actions: [],
            response: [
                "response_type": "ephemeral",
                "text": "Sorry, Sandman could not handle that command right now. The platform team has been told; please try again in a minute.",
            ],
            failure: failure
        )
    }

    static let responseTypes = ["ephemeral", "in_channel"]

    /// The outcome in a hook's result `{actions={...}, response={text=..., blocks=...}}`, and the
    /// result normalized (empty lists as lists) for tests to compare.
    static func validate(_ value: JSONValue?, file: String) throws(PluginError) -> (outcome: SlackCommandOutcome, normalized: JSONValue) {
        let shape = ResultShape(file: file)
        guard let value, value != .null else {
            throw shape.failure("result", "handle(cmd) must return {actions={...}, response={text=...}}, got nil")
        }
        let members = try shape.object(value, at: "result", allowed: ["actions", "response"])
        var actions: [SlackAction] = []
        let actionItems = try members["actions"].map { (items) throws(PluginError) in try shape.array(items, at: "result.actions") } ?? []
        for (position, item) in actionItems.enumerated() {
            actions.append(try SlackAction.validate(item, at: "result.actions[\(position + 1)]", shape: shape))
        }
        guard let responseValue = members["response"] else {
            throw shape.failure("result.response", "missing (a reply such as {text=\"...\"} is required)")
        }
        let response = try shape.slackMessage(responseValue, at: "result.response", extra: ["response_type"])
        if let responseMembers = response.object {
            _ = try shape.string(responseMembers, "response_type", at: "result.response").map { (type) throws(PluginError) in
                guard responseTypes.contains(type) else {
                    throw shape.failure("result.response.response_type", "unknown response type \"\(type)\" (expected ephemeral or in_channel)")
                }
            }
        }
        let normalized: JSONValue = ["actions": .array(actionItems), "response": response]
        return (SlackCommandOutcome(actions: actions, response: response), normalized)
    }
}
