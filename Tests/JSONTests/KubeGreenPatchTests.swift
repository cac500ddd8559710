import Foundation
import Testing
import TestSupport
@testable import JSON

/// JSON Patch with `Options.kubeGreen`: what kube-green's patcher (internal/patcher/patcher.go
/// `Exec`) gets from evanphx/json-patch v5.9.11 with `EnsurePathExistsOnAdd` and
/// `AllowMissingPathOnRemove` (and, the literal `ApplyOptions` leaving it false, no negative indices).
@Suite("JSON Patch as kube-green applies it")
struct KubeGreenPatchTests {
    /// `name` says where the expectation comes from.
    typealias Case = JSONPatchTests.Case

    static let cases: [Case] = [
        // evanphx/json-patch v5/patch_test.go `Cases`, run with the flag set.
        Case(name: "json-patch Cases: remove missing member /a/b/c", document: #"{"a":{"b":{"d":1}}}"#, patch: #"[{"op":"remove","path":"/a/b/c"}]"#, expected: #"{"a":{"b":{"d":1}}}"#),
        Case(name: "json-patch Cases: remove under missing parents /x/y/z", document: #"{"a":{"b":{"d":1}}}"#, patch: #"[{"op":"remove","path":"/x/y/z"}]"#, expected: #"{"a":{"b":{"d":1}}}"#),
        Case(name: "json-patch Cases: remove index past the end /10", document: #"[1,2,3]"#, patch: #"[{"op":"remove","path":"/10"}]"#, expected: #"[1,2,3]"#),
        Case(name: "json-patch Cases: remove under a missing index /10/x/y/z", document: #"[1,2,3]"#, patch: #"[{"op":"remove","path":"/10/x/y/z"}]"#, expected: #"[1,2,3]"#),
        Case(name: "json-patch partialArray.remove: negative index without SupportNegativeIndices", document: #"[1,2,3]"#, patch: #"[{"op":"remove","path":"/-10"}]"#, error: .pathNotFound("/-10")),
        Case(name: "json-patch partialArray.remove: a name is not an index", document: #"{"a":[1]}"#, patch: #"[{"op":"remove","path":"/a/x"}]"#, error: .pathNotFound("/a/x")),
        Case(name: "json-patch Cases: add /a/b creates {a}", document: #"{}"#, patch: #"[{"op":"add","path":"/a/b","value":"hello"}]"#, expected: #"{"a":{"b":"hello"}}"#),
        Case(name: "json-patch Cases: add /a/b/c creates two levels", document: #"{}"#, patch: #"[{"op":"add","path":"/a/b/c","value":"hello"}]"#, expected: #"{"a":{"b":{"c":"hello"}}}"#),
        Case(name: "json-patch Cases: add /x/y/z beside a", document: #"{"a":{}}"#, patch: #"[{"op":"add","path":"/x/y/z","value":"hello"}]"#, expected: #"{"a":{},"x":{"y":{"z":"hello"}}}"#),
        Case(name: "json-patch Cases: add /a/0/b creates an array", document: #"{}"#, patch: #"[{"op":"add","path":"/a/0/b","value":"hello"}]"#, expected: #"{"a":[{"b":"hello"}]}"#),
        Case(name: "json-patch Cases: add /a/b/0", document: #"{}"#, patch: #"[{"op":"add","path":"/a/b/0","value":"hello"}]"#, expected: #"{"a":{"b":["hello"]}}"#),
        Case(name: "json-patch Cases: add /a/b/3 pads with nulls", document: #"{}"#, patch: #"[{"op":"add","path":"/a/b/3","value":"hello"}]"#, expected: #"{"a":{"b":[null,null,null,"hello"]}}"#),
        Case(name: "json-patch Cases: add /a/0/0", document: #"{}"#, patch: #"[{"op":"add","path":"/a/0/0","value":"hello"}]"#, expected: #"{"a":[["hello"]]}"#),
        Case(name: "json-patch Cases: add /a/2/b/c pads an existing array", document: #"{"a":[{"b":"whatever"}]}"#, patch: #"[{"op":"add","path":"/a/2/b/c","value":"hello"}]"#, expected: #"{"a":[{"b":"whatever"},null,{"b":{"c":"hello"}}]}"#),
        Case(name: "json-patch Cases: add /a/1/b/c appends", document: #"{"a":[{"b":"whatever"}]}"#, patch: #"[{"op":"add","path":"/a/1/b/c","value":"hello"}]"#, expected: #"{"a":[{"b":"whatever"},{"b":{"c":"hello"}}]}"#),
        Case(name: "json-patch Cases: add /foo/1/bar/0", document: #"{"foo":[{"bar":[{"baz0":"123"}]}]}"#, patch: #"[{"op":"add","path":"/foo/1/bar/0","value":{"baz1":"456"}}]"#, expected: #"{"foo":[{"bar":[{"baz0":"123"}]},{"bar":[{"baz1":"456"}]}]}"#),
        Case(name: "json-patch Cases: add /foo/1/bar/- ", document: #"{"foo":[{"bar":[{"baz0":"123"}]}]}"#, patch: #"[{"op":"add","path":"/foo/1/bar/-","value":{"baz1":"456"}}]"#, expected: #"{"foo":[{"bar":[{"baz0":"123"}]},{"bar":[{"baz1":"456"}]}]}"#),
        Case(name: "json-patch ensurePathExists: negative index without SupportNegativeIndices", document: #"{}"#, patch: #"[{"op":"add","path":"/a/b/-1","value":"hello"}]"#, error: .pathNotFound("/a/b/-1")),
        Case(name: "json-patch ensurePathExists: a scalar on the way is an error", document: #"{"a":"text"}"#, patch: #"[{"op":"add","path":"/a/b","value":1}]"#, error: .pathNotFound("/a/b")),
        Case(name: "json-patch replace: never creates", document: #"{"spec":{}}"#, patch: #"[{"op":"replace","path":"/spec/x/y","value":1}]"#, error: .pathNotFound("/spec/x/y")),
        // kube-green's own tests.
        Case(name: "kube-green patcher_test.go TestNew: exec patch on {}", document: #"{}"#, patch: #"[{"op":"add","path":"/some/path","value":"some-value"}]"#, expected: #"{"some":{"path":"some-value"}}"#),
        Case(name: "kube-green jsonpatch_test.go: keda ScaledObject without annotations", document: #"{"metadata":{"name":"test-scaledobject-1"}}"#, patch: #"[{"op":"add","path":"/metadata/annotations/autoscaling.keda.sh~1paused-replicas","value":"0"}]"#, expected: #"{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":"0"},"name":"test-scaledobject-1"}}"#),
        Case(name: "kube-green issue 14 item 1: add and remove of a missing annotation", document: #"{"metadata":{"annotations":{"team":"a"}},"spec":{"replicas":0}}"#, patch: #"[{"op":"add","path":"/spec/replicas","value":0},{"op":"remove","path":"/metadata/annotations/keep-warm"}]"#, expected: #"{"metadata":{"annotations":{"team":"a"}},"spec":{"replicas":0}}"#),
    ]

    @Test(arguments: cases)
    func applies(_ testCase: Case) throws {
        let document = try JSONValue(parsing: testCase.document)
        let patch = try JSONPatch(JSONValue(parsing: testCase.patch))
        do {
            let result = try patch.applied(to: document, options: .kubeGreen)
            #expect(testCase.error == nil, "expected \(String(describing: testCase.error))")
            #expect(result.serialized() == testCase.expected)
            // What an API server applying RFC 6902 does with the strict form is the same.
            #expect(try patch.strict(for: document, options: .kubeGreen).applied(to: document) == result)
        } catch {
            #expect(error == testCase.error)
        }
    }

    @Test func theDefaultStaysRFC6902() throws {
        let patch = try JSONPatch(JSONValue(parsing: #"[{"op":"remove","path":"/a"}]"#))
        #expect(throws: JSONPatchError.pathNotFound("/a")) { try patch.applied(to: .emptyObject) }
        let add = try JSONPatch(JSONValue(parsing: #"[{"op":"add","path":"/a/b","value":1}]"#))
        #expect(throws: JSONPatchError.pathNotFound("/a/b")) { try add.applied(to: .emptyObject) }
    }

    @Test func strictFormsAreSmall() throws {
        let document = try JSONValue(parsing: #"{"metadata":{"name":"w"},"list":[1]}"#)
        let patch = try JSONPatch(JSONValue(parsing: """
            [{"op":"add","path":"/metadata/annotations/a~1b","value":"0"},{"op":"remove","path":"/metadata/labels/x"},
             {"op":"add","path":"/list/3/k","value":true}]
            """))
        #expect(try patch.strict(for: document, options: .kubeGreen).document == JSONValue(parsing: """
            [{"op":"add","path":"/metadata/annotations","value":{"a/b":"0"}},
             {"op":"replace","path":"/list","value":[1,null,null,{"k":true}]}]
            """))
    }

    /// For any document and any patch kube-green's rules apply, the strict form applied by RFC
    /// 6902 rules gives the same document.
    @Test func strictFormsAgreeOnRandomPatches() throws {
        var random = SeededGenerator()
        let seed = random.seed
        let keys = ["a", "b", "0", "1", "-"]
        func pointer() -> JSONPointer { JSONPointer(tokens: (0..<Int.random(in: 1...4, using: &random)).map { _ in keys.randomElement(using: &random)! }) }
        func value(depth: Int) -> JSONValue {
            switch Int.random(in: 0...(depth > 2 ? 1 : 3), using: &random) {
            case 0: .int(Int64.random(in: 0...9, using: &random))
            case 1: .null
            case 2: .object(Dictionary(uniqueKeysWithValues: keys.prefix(2).shuffled(using: &random).prefix(Int.random(in: 0...2, using: &random)).map { ($0, value(depth: depth + 1)) }))
            default: .array((0..<Int.random(in: 0...2, using: &random)).map { _ in value(depth: depth + 1) })
            }
        }
        var applied = 0
        for _ in 0..<3000 {
            let document = JSONValue.object(["a": value(depth: 1), "b": value(depth: 1)])
            let operations: [JSONPatch.Operation] = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                Bool.random(using: &random) ? .add(pointer(), value(depth: 2)) : .remove(pointer())
            }
            let patch = JSONPatch(operations)
            guard let lenient = try? patch.applied(to: document, options: .kubeGreen) else { continue }
            applied += 1
            let strict = try patch.strict(for: document, options: .kubeGreen)
            #expect(try strict.applied(to: document) == lenient, "seed \(seed): \(patch.document) on \(document)")
        }
        #expect(applied > 500, "seed \(seed)")
    }
}
