import JSON

/// A Slack message as text for a terminal, so that a hub without Slack (the demo) shows the
/// notifications a team would get, buttons included, with the command that clicks each button.
enum ConsoleMessage {
    static func text(_ payload: String, channel: String?) -> String {
        let message = (try? JSONValue(parsing: payload)) ?? ["text": .string(payload)]
        var lines = ["[slack \(channel ?? message["channel"]?.string ?? "-")]"]
        let blocks = message["blocks"]?.array ?? []
        for block in blocks {
            switch block["type"]?.string {
            case "section":
                if let text = block[path: ["text", "text"]]?.string { lines.append(text) }
                for field in block["fields"]?.array ?? [] { lines.append(field["text"]?.string ?? "") }
            case "context":
                lines.append((block["elements"]?.array ?? []).compactMap { $0["text"]?.string }.joined(separator: " · "))
            case "actions":
                for element in block["elements"]?.array ?? [] where element["type"] == "button" {
                    let label = element[path: ["text", "text"]]?.string ?? "button"
                    let action = element["action_id"]?.string ?? ""
                    let value = element["value"]?.string ?? ""
                    lines.append("  [\(label)]  sandman slack click \(action) \(value)")
                }
            default:
                continue
            }
        }
        if blocks.isEmpty, let text = message["text"]?.string { lines.append(text) }
        return lines.map { "  " + $0.replacingOccurrences(of: "\n", with: "\n  ") }.joined(separator: "\n")
    }
}
