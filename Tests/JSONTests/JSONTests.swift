import Foundation
import Testing
import TestSupport
@testable import JSON

@Suite("JSON parsing and serialization")
struct JSONParsingTests {
    @Test(arguments: [
        (#"{"a":1,"b":[true,false,null],"c":"x"}"#, #"{"a":1,"b":[true,false,null],"c":"x"}"#),
        (#"  {"b" : 2 , "a" : 1.5 }  "#, #"{"a":1.5,"b":2}"#),
        (#"[3, 3.0, -0, 1e3, -2.5E-2]"#, #"[3,3.0,0,1000.0,-0.025]"#),
        (#""line\nbreak \"quoted\" \\ \/ \u00e9 \ud83d\ude00""#, "\"line\\nbreak \\\"quoted\\\" \\\\ / é 😀\""),
        (#"{}"#, #"{}"#), (#"[]"#, #"[]"#), (#"9223372036854775807"#, #"9223372036854775807"#),
        (#""\u0001""#, #""\u0001""#),
    ])
    func roundTrips(input: String, expected: String) throws {
        #expect(try JSONValue(parsing: input).serialized() == expected)
        #expect(try JSONValue(parsing: Data(input.utf8)).serialized() == expected)
    }

    @Test func integersAndDoublesStayApart() throws {
        let value = try JSONValue(parsing: #"{"replicas":3,"ratio":0.5,"big":12345678901234567890}"#)
        #expect(value["replicas"] == .int(3))
        #expect(value["ratio"] == .double(0.5))
        #expect(value["big"]?.double == 1.2345678901234567e19)
        #expect(value["replicas"]?.int == 3)
    }

    @Test(arguments: [
        ("", "unexpected end"), ("{", "expected a member name"), (#"{"a" 1}"#, "expected ':'"), ("[1,]", "unexpected character ']'"),
        ("01", "leading zero"), ("1.", "expected a digit after '.'"), (#""\x""#, "invalid escape"), (#""\ud800""#, "unpaired surrogate"),
        ("tru", "unexpected end"), ("{} x", "unexpected data after"), ("\"a\u{01}\"", "control character"), (String(repeating: "[", count: 600), "nested deeper"),
    ])
    func rejects(input: String, reason: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: input) }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }

    @Test func pathAccessReadsAndCreates() {
        var object: JSONValue = ["spec": ["replicas": 3]]
        #expect(object[path: ["spec", "replicas"]] == 3)
        object[path: ["metadata", "labels", "app"]] = "web"
        #expect(object["metadata"]?["labels"]?["app"] == "web")
        object[path: ["spec", "replicas"]] = nil
        #expect(object["spec"] == .emptyObject)
    }

    @Test func yamlDocumentsBecomeJSON() throws {
        let documents = try JSONValue.documents(yaml: """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, labels: {tier: "1"}}
            spec:
              replicas: 3
              paused: false
              ratio: 0.25
              note: ~
            ---
            ---
            - op: add
              path: /spec/replicas
              value: 0
            """)
        #expect(documents.count == 2)
        #expect(documents[0]["spec"] == ["replicas": 3, "paused": false, "ratio": 0.25, "note": .null])
        #expect(documents[0]["metadata"]?["labels"]?["tier"] == "1")
        #expect(documents[1] == [["op": "add", "path": "/spec/replicas", "value": 0]])
    }

    /// Yams ends its document sequence at a syntax error without throwing it: the documents
    /// read before it must not pass for the whole file.
    @Test(arguments: ["a: b: c\n", "kind: A\n---\nkind: B\n  bad: indent\n", "kind: A\n---\n[1, 2\n"])
    func aSyntaxErrorInAnyDocumentIsThrown(_ text: String) {
        #expect(throws: YAMLConversionError.self) { try JSONValue.documents(yaml: text) }
    }

    @Test func codableBridgesThroughFoundation() throws {
        let value: JSONValue = ["a": [1, 2.5, "x", .null, true]]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }

    /// Strings of every kind of character, control characters, quotes and backslashes among
    /// them, serialize to JSON that parses back to the same string (seeded; the seed is printed).
    @Test func anyStringSerializesAndParsesBack() throws {
        var generator = SeededGenerator()
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{01}", "\u{1F}", "\u{7F}", "é", "😀", "\u{2028}"]
        for _ in 0..<2_000 {
            let text = String((0..<Int.random(in: 0..<24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let written = JSONValue.string(text).serialized()
            #expect(try JSONValue(parsing: written) == .string(text), "\(written), seed \(generator.seed)")
            #expect(!written.utf8.dropFirst().dropLast().contains { $0 < 0x20 }, "\(written), seed \(generator.seed)")
        }
    }
}

@Suite("JSON Patch (RFC 6902)")
struct JSONPatchTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var document: String
        var patch: String
        var expected: String?
        var error: JSONPatchError?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "A.1 add object member", document: #"{"foo":"bar"}"#, patch: #"[{"op":"add","path":"/baz","value":"qux"}]"#, expected: #"{"baz":"qux","foo":"bar"}"#),
        Case(name: "A.2 add array element", document: #"{"foo":["bar","baz"]}"#, patch: #"[{"op":"add","path":"/foo/1","value":"qux"}]"#, expected: #"{"foo":["bar","qux","baz"]}"#),
        Case(name: "A.3 remove member", document: #"{"baz":"qux","foo":"bar"}"#, patch: #"[{"op":"remove","path":"/baz"}]"#, expected: #"{"foo":"bar"}"#),
        Case(name: "A.4 remove element", document: #"{"foo":["bar","qux","baz"]}"#, patch: #"[{"op":"remove","path":"/foo/1"}]"#, expected: #"{"foo":["bar","baz"]}"#),
        Case(name: "A.5 replace", document: #"{"baz":"qux","foo":"bar"}"#, patch: #"[{"op":"replace","path":"/baz","value":"boo"}]"#, expected: #"{"baz":"boo","foo":"bar"}"#),
        Case(name: "A.6 move", document: #"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#, patch: #"[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]"#, expected: #"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#),
        Case(name: "A.7 move element", document: #"{"foo":["all","grass","cows","eat"]}"#, patch: #"[{"op":"move","from":"/foo/1","path":"/foo/3"}]"#, expected: #"{"foo":["all","cows","eat","grass"]}"#),
        Case(name: "A.8 test success", document: #"{"baz":"qux","foo":["a",2,"c"]}"#, patch: #"[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]"#, expected: #"{"baz":"qux","foo":["a",2,"c"]}"#),
        Case(name: "A.9 test failure", document: #"{"baz":"qux"}"#, patch: #"[{"op":"test","path":"/baz","value":"bar"}]"#, error: .testFailed("/baz")),
        Case(name: "A.10 add nested member", document: #"{"foo":"bar"}"#, patch: #"[{"op":"add","path":"/child","value":{"grandchild":{}}}]"#, expected: #"{"child":{"grandchild":{}},"foo":"bar"}"#),
        Case(name: "A.12 add to nonexistent target", document: #"{"foo":"bar"}"#, patch: #"[{"op":"add","path":"/baz/bat","value":"qux"}]"#, error: .pathNotFound("/baz/bat")),
        Case(name: "A.14 escaped pointer", document: #"{"/":9,"~1":10}"#, patch: #"[{"op":"test","path":"/~01","value":10}]"#, expected: #"{"/":9,"~1":10}"#),
        Case(name: "A.16 append with -", document: #"{"foo":["bar"]}"#, patch: #"[{"op":"add","path":"/foo/-","value":["abc","def"]}]"#, expected: #"{"foo":["bar",["abc","def"]]}"#),
        Case(name: "kube-green default: replicas to 0", document: #"{"spec":{"replicas":3}}"#, patch: #"[{"op":"add","path":"/spec/replicas","value":0}]"#, expected: #"{"spec":{"replicas":0}}"#),
        Case(name: "replace missing member fails", document: #"{"spec":{}}"#, patch: #"[{"op":"replace","path":"/spec/suspend","value":true}]"#, error: .pathNotFound("/spec/suspend")),
        Case(name: "copy", document: #"{"a":{"b":1}}"#, patch: #"[{"op":"copy","from":"/a","path":"/c"}]"#, expected: #"{"a":{"b":1},"c":{"b":1}}"#),
        Case(name: "whole patch fails atomically", document: #"{"a":1}"#, patch: #"[{"op":"add","path":"/b","value":2},{"op":"remove","path":"/zzz"}]"#, error: .pathNotFound("/zzz")),
        Case(name: "unknown op", document: #"{}"#, patch: #"[{"op":"merge","path":"/a"}]"#, error: .invalidPatch("operation 0 has unknown op \"merge\"")),
        Case(name: "missing value", document: #"{}"#, patch: #"[{"op":"add","path":"/a"}]"#, error: .invalidPatch("operation 0 (add /a) has no \"value\"")),
        Case(name: "pointer without slash", document: #"{}"#, patch: #"[{"op":"remove","path":"a"}]"#, error: .invalidPointer("a")),
        Case(name: "not an array", document: #"{}"#, patch: #"{"op":"remove"}"#, error: .invalidPatch("a JSON patch is an array of operations")),
    ]

    @Test(arguments: cases)
    func applies(_ testCase: Case) throws {
        let document = try JSONValue(parsing: testCase.document)
        let patchDocument = try JSONValue(parsing: testCase.patch)
        do {
            let result = try JSONPatch(patchDocument).applied(to: document)
            #expect(testCase.error == nil, "expected \(String(describing: testCase.error))")
            #expect(result.serialized() == testCase.expected)
        } catch {
            #expect(error == testCase.error)
        }
    }
}

@Suite("JSON Merge Patch (RFC 7386)")
struct MergePatchTests {
    // RFC 7386 Appendix A.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func applies(target: String, patch: String, expected: String) throws {
        let result = MergePatch.apply(try JSONValue(parsing: patch), to: try JSONValue(parsing: target))
        #expect(result.serialized() == expected)
    }

    @Test(arguments: [
        (#"{"spec":{"replicas":0}}"#, #"{"spec":{"replicas":3}}"#, #"{"spec":{"replicas":3}}"#),
        (#"{"spec":{"suspend":true,"schedule":"* * * * *"}}"#, #"{"spec":{"suspend":false,"schedule":"* * * * *"}}"#, #"{"spec":{"suspend":false}}"#),
        (#"{"spec":{"suspend":true}}"#, #"{"spec":{}}"#, #"{"spec":{"suspend":null}}"#),
        (#"{"a":1}"#, #"{"a":1}"#, #"{}"#),
        (#"{"a":[1,2]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
    ])
    func diffsRestoreTheOriginal(slept: String, original: String, expectedPatch: String) throws {
        let sleptValue = try JSONValue(parsing: slept)
        let originalValue = try JSONValue(parsing: original)
        let patch = MergePatch.diff(from: sleptValue, to: originalValue)
        #expect(patch.serialized() == expectedPatch)
        #expect(MergePatch.apply(patch, to: sleptValue) == originalValue)
    }
}
