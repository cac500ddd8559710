import JSON

/// Slack refuses a whole message (`invalid_blocks`) when one of its blocks is over a limit: a
/// status of many namespaces, or a plugin's list of failures, would never be seen. The hub
/// shortens what is too long instead, marking the cut with "…". The limits are Block Kit's (as
/// python-slack-sdk checks them): at most 50 blocks (the last then says how many more were left
/// out); a message's text 40,000 characters; a section's text 3,000 characters and at
/// most 10 fields of 2,000; a header's text 150; at most 10 elements in a context block, each
/// text 3,000. Lengths are counted in UTF-16 units, never fewer than the characters Slack counts.
enum BlockKitLimits {
    static let blocks = 50
    static let sectionText = 3000
    static let sectionFields = 10
    static let fieldText = 2000
    static let headerText = 150
    static let contextElements = 10
    static let messageText = 40_000

    /// `message` with its blocks within the limits; unchanged when they already are.
    static func clamped(_ message: JSONValue) -> JSONValue {
        var clamped = message
        if let text = message["text"]?.string, text.utf16.count > Self.messageText {
            clamped["text"] = .string(shortened(text, to: Self.messageText))
        }
        guard var blocks = message["blocks"]?.array else { return clamped }
        if blocks.count > Self.blocks {
            let left = blocks.count - (Self.blocks - 1)
            blocks = Array(blocks.prefix(Self.blocks - 1))
            blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": .string("… and \(left) more blocks, not shown")]]])
        }
        clamped["blocks"] = .array(blocks.map(clampedBlock))
        return clamped == message ? message : clamped
    }

    private static func clampedBlock(_ block: JSONValue) -> JSONValue {
        var block = block
        switch block["type"]?.string {
        case "section":
            block["text"] = block["text"].map { clampedText($0, to: sectionText) }
            if let fields = block["fields"]?.array {
                block["fields"] = .array(fields.prefix(sectionFields).map { clampedText($0, to: fieldText) })
            }
        case "header":
            block["text"] = block["text"].map { clampedText($0, to: headerText) }
        case "context":
            if let elements = block["elements"]?.array {
                block["elements"] = .array(elements.prefix(contextElements).map { clampedText($0, to: sectionText) })
            }
        default:
            break
        }
        return block
    }

    /// A text object (`{type, text}`) whose text is at most `limit` long.
    private static func clampedText(_ object: JSONValue, to limit: Int) -> JSONValue {
        guard let text = object["text"]?.string, text.utf16.count > limit else { return object }
        var clamped = object
        clamped["text"] = .string(shortened(text, to: limit))
        return clamped
    }

    /// The longest beginning of `text` that fits in `limit` with "…" after it; a code block the
    /// cut leaves open is closed, so that the rest of the message is not shown as code.
    static func shortened(_ text: String, to limit: Int) -> String {
        guard text.utf16.count > limit else { return text }
        let fence = "```"
        var kept = ""
        var length = 0
        let room = limit - 1 - (fence.utf16.count + 1)  // "…", and "\n```" should a code block need closing
        for character in text {
            let size = String(character).utf16.count
            if length + size > room { break }
            kept.append(character)
            length += size
        }
        let fences = kept.components(separatedBy: fence).count - 1
        return kept + "…" + (fences % 2 == 1 ? "\n" + fence : "")
    }
}
