import Foundation
import JSON
import Testing
@testable import Scripting

/// Hook results checked against their contracts: wrong shapes and unknown actions are reported
/// with the plugin file and the offending field.
@Suite struct ResultValidationTests {
    static let decisions: [(JSONValue?, PolicyDecision?)] = [
        (nil, nil),
        (.null, nil),
        (["action": "sleep", "reason": "night"], PolicyDecision(action: .sleep, reason: "night", plugin: "policy/p.lua")),
        (["action": "keep"], PolicyDecision(action: .keep, reason: "keep proposed by policy/p.lua", plugin: "policy/p.lua")),
        (["action": "wake", "reason": ""], PolicyDecision(action: .wake, reason: "wake proposed by policy/p.lua", plugin: "policy/p.lua")),
        (["action": "sleep", "reason": "staging at night", "downtimeReplicas": 1],
         PolicyDecision(action: .sleep, reason: "staging at night", plugin: "policy/p.lua", downtimeReplicas: .count(1))),
        (["action": "sleep", "downtimeReplicas": "25%"],
         PolicyDecision(action: .sleep, reason: "sleep proposed by policy/p.lua", plugin: "policy/p.lua", downtimeReplicas: .percent(25))),
    ]

    @Test("valid decisions", arguments: decisions)
    func decision(value: JSONValue?, expected: PolicyDecision?) throws {
        #expect(try PolicyDecision.validate(value, file: "policy/p.lua") == expected)
    }

    /// `sandman plugins test` compares a partial sleep's replicas as text, as the cases write them.
    @Test func aPartialSleepIsComparedInPluginTests() throws {
        let output = try PluginOutput.normalized(["action": "sleep", "downtimeReplicas": 1], kind: .policy, file: "policy/p.lua")
        #expect(output == ["action": "sleep", "reason": "sleep proposed by policy/p.lua", "downtimeReplicas": "1"])
        #expect(PluginOutput.mismatch(expected: ["action": "sleep", "downtimeReplicas": "1"], actual: output) == nil)
    }

    static let badResults: [(PluginKind, JSONValue, String)] = [
        (.policy, ["action": "slep"], "policy/p.lua: result.action: unknown action \"slep\" (expected sleep, wake or keep)"),
        (.policy, ["reason": "x"], "policy/p.lua: result.action: missing"),
        (.policy, ["action": "sleep", "reasn": "typo"], "policy/p.lua: result.reasn: unknown field (expected action, reason or downtimeReplicas)"),
        (.policy, ["action": "wake", "downtimeReplicas": 1], "policy/p.lua: result.downtimeReplicas: only with action sleep"),
        (.policy, ["action": "sleep", "downtimeReplicas": "half"], "policy/p.lua: result.downtimeReplicas: expected a number of replicas or a percentage"),
        (.policy, ["action": "sleep", "reason": 3], "policy/p.lua: result.reason: expected a string, got a number"),
        (.policy, "sleep", "policy/p.lua: result: expected a table with named fields, got the string \"sleep\""),
        (.policy, ["sleep"], "policy/p.lua: result: expected a table with named fields, got a list"),
        (.slackCommands, .null, "handle(cmd) must return"),
        (.slackCommands, ["actions": []], "result.response: missing"),
        (.slackCommands, ["response": ["text": "hi"], "extra": 1], "result.extra: unknown field (expected actions or response)"),
        (.slackCommands, ["actions": [["type": "restart", "cluster": "dev"]], "response": ["text": "ok"]],
         "result.actions[1].type: unknown action \"restart\" (expected wake, sleep, override, status or help)"),
        (.slackCommands, ["actions": [["type": "wake"]], "response": ["text": "ok"]], "result.actions[1].cluster: missing (a string is required)"),
        (.slackCommands, ["actions": [["type": "wake", "cluster": "dev", "duration": "soon"]], "response": ["text": "ok"]],
         "result.actions[1].duration: invalid duration \"soon\""),
        (.slackCommands, ["actions": [["type": "wake", "cluster": "dev", "namespaces": ["ok", 3]]], "response": ["text": "ok"]],
         "result.actions[1].namespaces[2]: expected a non-empty string, got a number"),
        (.slackCommands, ["actions": [["type": "sleep", "cluster": "dev", "duration": "1h"]], "response": ["text": "ok"]],
         "result.actions[1].duration: unknown field (expected type, cluster, namespaces or all)"),
        (.slackCommands, ["actions": [["type": "override", "cluster": "dev"]], "response": ["text": "ok"]],
         "result.actions[1].kind: missing (expected wake, sleep or skip, or clear=true)"),
        (.slackCommands, ["actions": [["type": "override", "cluster": "dev", "kind": "nap"]], "response": ["text": "ok"]],
         "result.actions[1].kind: unknown override kind \"nap\" (expected wake, sleep or skip)"),
        (.slackCommands, ["actions": [["type": "override", "cluster": "dev", "kind": "wake", "duration": "1h", "until": 5]], "response": ["text": "ok"]],
         "result.actions[1].until: give duration or until, not both"),
        (.slackCommands, ["actions": [["type": "override", "cluster": "dev", "clear": true, "kind": "wake"]], "response": ["text": "ok"]],
         "result.actions[1].kind: not allowed with clear=true"),
        (.slackCommands, ["actions": ["wake"], "response": ["text": "ok"]], "result.actions[1]: expected an action table"),
        (.slackCommands, ["actions": ["type": "wake"], "response": ["text": "ok"]], "result.actions: expected a list, got a table with named fields"),
        (.slackCommands, ["response": ["text": "ok", "response_type": "public"]], "result.response.response_type: unknown response type \"public\""),
        (.slackCommands, ["response": ["blocks": []]], "result.response.text: missing"),
        (.notify, ["blocks": [["type": "section"]]], "notify/n.lua: result.text: missing (a string is required)"),
        (.notify, ["text": "hi", "blocks": [["text": "no type"]]], "notify/n.lua: result.blocks[1].type: missing"),
        (.notify, ["text": "hi", "blocks": ["divider"]], "result.blocks[1]: expected a Block Kit block"),
        (.notify, ["text": "", "channel": "#x"], "result.text: must not be empty"),
        (.notify, ["text": "hi", "attachments": []], "result.attachments: unknown field (expected text, blocks or channel)"),
    ]

    @Test("wrong shapes name the file and the field", arguments: badResults)
    func badResult(kind: PluginKind, value: JSONValue, expected: String) throws {
        let file = kind == .notify ? "notify/n.lua" : (kind == .slackCommands ? "slack/commands.lua" : "policy/p.lua")
        #expect {
            try PluginOutput.normalized(value, kind: kind, file: file)
        } throws: { error in
            guard let error = error as? PluginError, case .invalidResult = error.reason else { return false }
            return error.description.contains(expected) && error.file == file
        }
    }

    @Test func slackActionsBecomeTypedActions() throws {
        let value: JSONValue = [
            "actions": [
                ["type": "wake", "cluster": "staging", "namespaces": ["a", "b"], "duration": "2h"],
                ["type": "sleep", "cluster": "dev", "namespaces": .emptyObject],
                ["type": "override", "cluster": "staging", "kind": "skip", "until": 1_772_485_200, "reason": "demo"],
                ["type": "override", "cluster": "staging", "kind": "wake", "duration": "4h"],
                ["type": "override", "cluster": "dev", "namespaces": ["web"], "clear": true],
                ["type": "status"],
                ["type": "status", "cluster": "dev"],
                ["type": "help"],
            ],
            "response": ["text": "ok", "response_type": "in_channel", "blocks": .emptyObject],
        ]
        let (outcome, normalized) = try SlackCommandOutcome.validate(value, file: "slack/commands.lua")
        #expect(outcome.actions == [
            .wake(cluster: "staging", namespaces: ["a", "b"], duration: .seconds(7200)),
            .sleep(cluster: "dev", namespaces: []),
            .override(SlackOverride(cluster: "staging", namespaces: [], kind: .skip, duration: nil, until: Date(timeIntervalSince1970: 1_772_485_200), reason: "demo")),
            .override(SlackOverride(cluster: "staging", namespaces: [], kind: .wake, duration: .seconds(14400), until: nil, reason: nil)),
            .clearOverride(cluster: "dev", namespaces: ["web"]),
            .status(cluster: nil),
            .status(cluster: "dev"),
            .help,
        ])
        #expect(outcome.response == ["text": "ok", "response_type": "in_channel", "blocks": []])
        #expect(normalized["response"]?["blocks"] == [])
    }

    static let subsets: [(JSONValue, JSONValue, String?)] = [
        (["action": "sleep"], ["action": "sleep", "reason": "x"], nil),
        (["action": "sleep"], ["action": "wake", "reason": "x"], "output.action: expected \"sleep\", got \"wake\""),
        (["a": .null], ["b": 1], nil),
        (["a": 1], ["a": 1.0], nil),
        (["a": 1], ["b": 1], "output.a: missing, expected 1"),
        ([1, 2], [1, 2, 3], "output: expected 2 items, got 3"),
        ([["x": 1]], [["x": 1, "y": 2]], nil),
        ([["x": 1]], [["x": 2]], "output[1].x: expected 1, got 2"),
        ([], .emptyObject, nil),
        (.null, .null, nil),
        (.null, ["action": "keep"], "output: expected null"),
        ("1", 1, "output: expected \"1\", got 1"),
    ]

    @Test("expected outputs match as subsets", arguments: subsets)
    func subset(expected: JSONValue, actual: JSONValue, mismatch: String?) {
        let found = PluginOutput.mismatch(expected: expected, actual: actual)
        if let mismatch {
            #expect(found?.hasPrefix(mismatch) == true, "\(String(describing: found))")
        } else {
            #expect(found == nil)
        }
    }

    static let paths: [(String, PluginKind?)] = [
        ("policy/default.lua", .policy),
        ("policy/zz-last.lua", .policy),
        ("teams/payments.lua", .team),
        ("slack/commands.lua", .slackCommands),
        ("slack/other.lua", nil),
        ("notify/lifecycle.lua", .notify),
        ("policy/default_test.lua", nil),
        ("policy/tests/default.lua", nil),
        ("policy/.hidden.lua", nil),
        ("policy/.lua", nil),
        ("policy/readme.md", nil),
        ("default.lua", nil),
        ("lib/util.lua", nil),
        ("..data/policy/default.lua", nil),
    ]

    @Test("plugin places", arguments: paths)
    func place(path: String, kind: PluginKind?) {
        #expect(PluginKind(path: path) == kind)
    }
}
