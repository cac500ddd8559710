import JSON

/// The Slack messages the notification plugins made of one event.
public struct NotificationOutcome: Sendable {
    /// One plugin's message for the event.
    public struct Message: Sendable, Equatable {
        /// The plugin that wrote it (`notify/lifecycle.lua`).
        public var plugin: String
        /// A Slack message: `text` (the notification fallback), optional `blocks` and `channel`.
        public var message: JSONValue

        public init(plugin: String, message: JSONValue) {
            self.plugin = plugin
            self.message = message
        }
    }

    /// In plugin file order; empty when every plugin stayed quiet (returned nil).
    public var messages: [Message]
    /// Plugins that failed on this event.
    public var failures: [PluginError]

    public init(messages: [Message] = [], failures: [PluginError] = []) {
        self.messages = messages
        self.failures = failures
    }

    /// The message in a hook's result: nil to stay quiet, else `{text=..., blocks=..., channel=...}`.
    static func validate(_ value: JSONValue?, file: String) throws(PluginError) -> JSONValue? {
        guard let value, value != .null else { return nil }
        let shape = ResultShape(file: file)
        let message = try shape.slackMessage(value, at: "result", extra: ["channel"])
        if let members = message.object { _ = try shape.string(members, "channel", at: "result") }
        return message
    }
}
