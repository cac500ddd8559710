@testable import Hub
import JSON
import TestSupport
import Testing

/// Messages Slack would refuse whole (`invalid_blocks`) are shortened to Block Kit's limits instead.
@Suite("Block Kit limits")
struct BlockKitLimitsTests {
    static func section(_ text: String) -> JSONValue { ["type": "section", "text": ["type": "mrkdwn", "text": .string(text)]] }

    @Test(arguments: [
        // (text, limit, expected)
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("abcdefghijk", 10, "abcde…"),
        ("```abcdefghijklmnop```", 12, "```abcd…\n```"),
        ("é🙂é🙂é🙂é🙂é🙂", 10, "é🙂é…"),
    ])
    func shortenedTexts(text: String, limit: Int, expected: String) {
        let shortened = BlockKitLimits.shortened(text, to: limit)
        #expect(shortened == expected)
        #expect(shortened.utf16.count <= limit)
    }

    @Test func aMessageWithinTheLimitsIsUnchanged() {
        let message: JSONValue = [
            "text": "fallback", "blocks": [Self.section("hello"), ["type": "divider"], ["type": "header", "text": ["type": "plain_text", "text": "Hi"]]],
        ]
        #expect(BlockKitLimits.clamped(message) == message)
        #expect(BlockKitLimits.clamped(["text": "no blocks"]) == ["text": "no blocks"])
    }

    @Test func eachKindOfBlockIsShortenedToItsLimit() {
        let long = String(repeating: "x", count: 5000)
        let message: JSONValue = [
            "text": "fallback",
            "blocks": .array(
                [
                    Self.section(long),
                    ["type": "header", "text": ["type": "plain_text", "text": .string(long)]],
                    ["type": "section", "fields": .array((0..<12).map { _ in ["type": "mrkdwn", "text": .string(long)] })],
                    ["type": "context", "elements": .array((0..<12).map { _ in ["type": "mrkdwn", "text": "a"] })],
                ] + (0..<60).map { _ in ["type": "divider"] }
            ),
        ]
        let clamped = BlockKitLimits.clamped(message)
        let blocks = clamped["blocks"]?.array ?? []
        #expect(blocks.count == 50)
        #expect(blocks[49][path: ["type"]] == "context")
        #expect(blocks[49]["elements"]?.array?.first?["text"] == "… and 15 more blocks, not shown", "64 blocks, 49 shown")
        #expect(blocks[0][path: ["text", "text"]]?.string?.utf16.count == 3000 - 4)
        #expect(blocks[1][path: ["text", "text"]]?.string?.utf16.count == 150 - 4)
        #expect(blocks[2]["fields"]?.array?.count == 10)
        #expect(blocks[2]["fields"]?.array?.allSatisfy { $0["text"]?.string?.utf16.count == 2000 - 4 } == true)
        #expect(blocks[3]["elements"]?.array?.count == 10)
        #expect(clamped["text"] == "fallback")
    }

    /// Random messages: within the limits afterwards, unchanged when they were, and shortening twice
    /// changes nothing more.
    @Test func randomMessagesEndWithinTheLimits() {
        var generator = SeededGenerator()
        let alphabet = Array("ab é🙂`\n*_") + ["```"].flatMap { Array($0) }
        for _ in 0..<300 {
            let blocks: [JSONValue] = (0..<Int.random(in: 0...60, using: &generator)).map { _ in
                let text = String((0..<Int.random(in: 0...3500, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: return Self.section(text)
                case 1: return ["type": "header", "text": ["type": "plain_text", "text": .string(String(text.prefix(200)))]]
                default: return ["type": "section", "fields": .array((0..<Int.random(in: 1...12, using: &generator)).map { _ in ["type": "mrkdwn", "text": .string(text)] })]
                }
            }
            let message: JSONValue = ["blocks": .array(blocks)]
            let clamped = BlockKitLimits.clamped(message)
            let out = clamped["blocks"]?.array ?? []
            #expect(out.count <= 50, "seed \(generator.seed)")
            for block in out {
                let limit = block["type"] == "header" ? 150 : 3000
                #expect((block[path: ["text", "text"]]?.string?.utf16.count ?? 0) <= limit, "seed \(generator.seed)")
                #expect((block["fields"]?.array?.count ?? 0) <= 10, "seed \(generator.seed)")
                #expect(block["fields"]?.array?.allSatisfy { ($0["text"]?.string?.utf16.count ?? 0) <= 2000 } ?? true, "seed \(generator.seed)")
            }
            #expect(BlockKitLimits.clamped(clamped) == clamped, "seed \(generator.seed)")
            let within = blocks.count <= 50 && blocks.allSatisfy { block in
                (block[path: ["text", "text"]]?.string?.utf16.count ?? 0) <= (block["type"] == "header" ? 150 : 3000)
                    && (block["fields"]?.array.map { $0.count <= 10 && $0.allSatisfy { ($0["text"]?.string?.utf16.count ?? 0) <= 2000 } } ?? true)
            }
            if within { #expect(clamped == message, "seed \(generator.seed)") }
        }
    }

    /// The pre-sleep warning's keep-awake button carries `cluster/a,b,…`, at most 2,000 characters:
    /// many namespaces sleeping at once are split over several warnings, none lost, in order.
    @Test func warningsAreSplitSoThatEachButtonValueFits() {
        var generator = SeededGenerator()
        for _ in 0..<200 {
            let names = (0..<Int.random(in: 1...400, using: &generator)).map { index in
                "ns\(index)-" + String(repeating: "x", count: Int.random(in: 0...60, using: &generator))
            }
            let cluster = "staging"
            let runs = SlackNotifier.buttonSized(names, cluster: cluster) { $0 }
            #expect(runs.flatMap { $0 } == names, "seed \(generator.seed)")
            for run in runs {
                #expect(!run.isEmpty)
                #expect("\(cluster)/\(run.joined(separator: ","))".utf16.count <= 2000, "seed \(generator.seed)")
            }
            // Split only where needed: two neighbouring runs would not fit in one.
            for (first, second) in zip(runs, runs.dropFirst()) {
                #expect("\(cluster)/\((first + [second[0]]).joined(separator: ","))".utf16.count > 2000, "seed \(generator.seed)")
            }
        }
    }
}
