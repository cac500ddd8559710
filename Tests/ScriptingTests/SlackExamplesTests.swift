import Foundation
import JSON
import Logging
import Scripting
import TestSupport
import Testing

/// Issue 16, item 4: every usage hint of the Slack app manifest (docs/slack.md) and every Slack
/// command written in README.md and docs/*.md is accepted by the shipped plugins/slack/commands.lua,
/// so that what the docs tell people to type works.
@Suite("Slack examples in the docs")
struct SlackExamplesTests {
    static let clusters: [JSONValue] = ["production", "staging", "dev"]

    /// `(where, command, text)` for each example: manifest usage hints, and `/k8s-...` commands
    /// with arguments in code spans, code blocks and `sandman slack send "..."` lines. Syntax
    /// lines (`<cluster>`, `[namespace]`) are not examples.
    static func examples() throws -> [(String, String, String)] {
        var found: [(String, String, String)] = []
        let files = ["README.md"] + (try FileManager.default.contentsOfDirectory(atPath: repositoryFile("docs"))).filter { $0.hasSuffix(".md") }.sorted().map { "docs/\($0)" }
        let hint = try NSRegularExpression(pattern: #"command: (/k8s-[a-z]+),.*usage_hint: "([^"]*)""#)
        let command = try NSRegularExpression(pattern: #"(?:`|"|^\s*)(/k8s-[a-z]+) ([^`"\n]+)(?:`|")"#, options: .anchorsMatchLines)
        for file in files {
            let text = try String(contentsOfFile: repositoryFile(file), encoding: .utf8)
            let range = NSRange(text.startIndex..., in: text)
            for match in hint.matches(in: text, range: range) {
                found.append(("\(file) usage hint", String(text[Range(match.range(at: 1), in: text)!]), String(text[Range(match.range(at: 2), in: text)!])))
            }
            for match in command.matches(in: text, range: range) {
                let arguments = String(text[Range(match.range(at: 2), in: text)!]).trimmingCharacters(in: .whitespaces)
                guard !arguments.contains("<"), !arguments.contains("["), !arguments.contains("|") else { continue }
                found.append((file, String(text[Range(match.range(at: 1), in: text)!]), arguments))
            }
        }
        return found
    }

    @Test func everyDocumentedSlackCommandIsAcceptedByTheShippedPlugin() async throws {
        let examples = try Self.examples()
        #expect(examples.filter { $0.0.hasSuffix("usage hint") }.count == 4, "the manifest's four commands")
        #expect(examples.count >= 10, "\(examples)")
        let host = PluginHost(configuration: .init(directory: repositoryFile("plugins")), clock: { Date(timeIntervalSince1970: 1_772_476_200) }, logger: Logger(label: "slack-examples"))
        await host.reload()
        for (source, command, text) in examples {
            let outcome = await host.handleSlackCommand([
                "command": .string(command), "text": .string(text), "user_id": "U1", "clusters": .array(Self.clusters), "timezone": "Europe/Rome",
            ])
            let reply = outcome.response["text"]?.string ?? ""
            #expect(outcome.failure == nil && !outcome.actions.isEmpty && !reply.hasPrefix(":warning:"), "\(source): \(command) \(text): \(reply)")
            if text != "help" { #expect(!outcome.actions.contains(.help), "\(source): \(command) \(text) shows the help") }
        }
    }
}
