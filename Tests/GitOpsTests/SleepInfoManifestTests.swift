import Foundation
import GitOps
import JSON
import TestSupport
import Testing

/// The annotation edit of a SleepInfo manifest: exact results for the layouts people write,
/// and a randomized check that any edit means what it should and leaves the rest alone.
@Suite("SleepInfo manifest edits")
struct SleepInfoManifestTests {
    static let key = "sandman.dev/override"
    static let value = #"{"kind":"wake","id":"o-1","until":"2027-01-04T22:00:00Z","reason":"it's late"}"#
    static let quoted = #"'{"kind":"wake","id":"o-1","until":"2027-01-04T22:00:00Z","reason":"it''s late"}'"#

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var before: String
        var value: String?
        var after: String
        var preserved = true
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "block metadata without annotations", before: """
            # Payments' schedule.
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: office-hours   # the only one
              namespace: payments
            spec:
              weekdays: "1-5"
              sleepAt: "20:00"

            """, value: value, after: """
            # Payments' schedule.
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              annotations:
                sandman.dev/override: \(quoted)
              name: office-hours   # the only one
              namespace: payments
            spec:
              weekdays: "1-5"
              sleepAt: "20:00"

            """),
        Case(name: "flow metadata, as the demo's fixture", before: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: office-hours, namespace: payments}
            spec: {weekdays: "1-5", sleepAt: "20:00"}

            """, value: value, after: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: office-hours, namespace: payments, annotations: {sandman.dev/override: \(quoted)}}
            spec: {weekdays: "1-5", sleepAt: "20:00"}

            """),
        Case(name: "replaced where it is", before: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: office-hours
              annotations:
                team: payments
                sandman.dev/override: '{"kind":"sleep"}'   # by hand
                other: x
            spec: {weekdays: "*", sleepAt: "20:00"}
            """, value: value, after: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: office-hours
              annotations:
                team: payments
                sandman.dev/override: \(quoted)   # by hand
                other: x
            spec: {weekdays: "*", sleepAt: "20:00"}
            """),
        Case(name: "added first among other annotations", before: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
                name: office-hours
                annotations:
                    team: payments
            spec: {weekdays: "*", sleepAt: "20:00"}

            """, value: value, after: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
                name: office-hours
                annotations:
                    sandman.dev/override: \(quoted)
                    team: payments
            spec: {weekdays: "*", sleepAt: "20:00"}

            """),
        Case(name: "removed, other annotations kept", before: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: office-hours
              annotations:
                sandman.dev/override: "{\\"kind\\":\\"wake\\"}"
                team: payments
            spec: {weekdays: "*", sleepAt: "20:00"}

            """, value: nil, after: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: office-hours
              annotations:
                team: payments
            spec: {weekdays: "*", sleepAt: "20:00"}

            """),
        Case(name: "the only annotation removed with its mapping", before: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: office-hours
              annotations:
                sandman.dev/override: '{"kind":"wake"}'
              namespace: payments
            spec: {weekdays: "*", sleepAt: "20:00"}

            """, value: nil, after: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: office-hours
              namespace: payments
            spec: {weekdays: "*", sleepAt: "20:00"}

            """),
        Case(name: "flow annotations: added, then removed", before: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: office-hours, annotations: {team: payments}}
            spec: {weekdays: "*", sleepAt: "20:00"}

            """, value: value, after: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: office-hours, annotations: {sandman.dev/override: \(quoted), team: payments}}
            spec: {weekdays: "*", sleepAt: "20:00"}

            """),
        Case(name: "flow annotations: the last one removed", before: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: office-hours, annotations: {team: payments, sandman.dev/override: '{"kind":"wake"}'}}
            spec: {weekdays: "*", sleepAt: "20:00"}

            """, value: nil, after: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: office-hours, annotations: {team: payments}}
            spec: {weekdays: "*", sleepAt: "20:00"}

            """),
        Case(name: "other documents untouched", before: """
            # Deployed by Argo CD.
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: api, namespace: payments}
            spec: {replicas: 3}   # keep
            ---
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: nights
            spec: {weekdays: "*", sleepAt: "20:00"}
            ---
            # trailing comment only

            """, value: value, after: """
            # Deployed by Argo CD.
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: api, namespace: payments}
            spec: {replicas: 3}   # keep
            ---
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              annotations:
                sandman.dev/override: \(quoted)
              name: nights
            spec: {weekdays: "*", sleepAt: "20:00"}
            ---
            # trailing comment only

            """),
        Case(name: "a block scalar is written anew (only its document)", before: """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: notes}   # stays as it is
            ---
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              name: nights
              annotations:
                sandman.dev/override: |
                  {"kind":"sleep"}
            spec: {weekdays: "*", sleepAt: "20:00"}

            """, value: value, after: """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: notes}   # stays as it is
            ---
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata:
              annotations:
                sandman.dev/override: '{"kind":"wake","id":"o-1","until":"2027-01-04T22:00:00Z","reason":"it''s late"}'
              name: nights
            spec:
              sleepAt: '20:00'
              weekdays: '*'

            """, preserved: false),
    ]

    @Test(arguments: cases)
    func edits(_ example: Case) throws {
        let edit = try SleepInfoManifest.setting(Self.key, to: example.value, in: example.before, namespace: "payments")
        #expect(edit.text == example.after)
        #expect(edit.preservedLayout == example.preserved)
        // Done twice, the second changes nothing.
        let again = try SleepInfoManifest.setting(Self.key, to: example.value, in: edit.text, namespace: "payments")
        #expect(!again.changed)
        #expect(try SleepInfoManifest.annotations(Self.key, in: edit.text, namespace: "payments").map(\.value) == [example.value])
    }

    @Test func windowsLineEndingsAreKept() throws {
        let before = "apiVersion: kube-green.com/v1alpha1\r\nkind: SleepInfo\r\nmetadata:\r\n  name: a\r\nspec: {weekdays: \"*\", sleepAt: \"20:00\"}\r\n"
        let edit = try SleepInfoManifest.setting(Self.key, to: "{}", in: before, namespace: "payments")
        #expect(edit.text == "apiVersion: kube-green.com/v1alpha1\r\nkind: SleepInfo\r\nmetadata:\r\n  annotations:\r\n    sandman.dev/override: '{}'\r\n  name: a\r\nspec: {weekdays: \"*\", sleepAt: \"20:00\"}\r\n")
    }

    @Test func anotherNamespacesSleepInfoIsNotEdited() throws {
        let text = "apiVersion: kube-green.com/v1alpha1\nkind: SleepInfo\nmetadata: {name: a, namespace: search}\nspec: {weekdays: \"*\", sleepAt: \"20:00\"}\n"
        let error = #expect(throws: SleepInfoManifest.ManifestError.self) { try SleepInfoManifest.setting(Self.key, to: "{}", in: text, namespace: "payments") }
        #expect(error?.description.contains("no SleepInfo of namespace payments") == true)
        #expect(throws: SleepInfoManifest.ManifestError.self) { try SleepInfoManifest.setting(Self.key, to: "{}", in: "a: [unclosed", namespace: "payments") }
    }

    /// Random manifests in block and flow styles, with comments, other documents and other
    /// annotations; random sets and removals. Every result means exactly the edit, and the text
    /// of every other document is unchanged.
    @Test func randomEditsMeanWhatTheySay() throws {
        var random = SeededGenerator()
        for round in 0..<200 {
            let (text, others) = Self.randomManifest(&random)
            var current = text
            for step in 0..<3 {
                let value: String? = Bool.random(using: &random) ? nil : "{\"kind\":\"wake\",\"n\":\(Int.random(in: 0...9, using: &random)),\"r\":\"a'b: #c\"}"
                let edit = try SleepInfoManifest.setting(Self.key, to: value, in: current, namespace: "payments")
                let documents = try JSONValue.documents(yaml: edit.text)
                let sleepInfo = try #require(documents.first { $0["kind"] == "SleepInfo" }, "seed \(random.seed) round \(round)")
                #expect(sleepInfo[path: ["metadata", "annotations", Self.key]]?.string == value, "seed \(random.seed) round \(round) step \(step):\n\(current)\n=>\n\(edit.text)")
                #expect(sleepInfo[path: ["metadata", "annotations", "team"]] == "payments", "seed \(random.seed) round \(round)")
                #expect(sleepInfo[path: ["spec", "sleepAt"]] == "20:00", "seed \(random.seed) round \(round)")
                #expect(edit.preservedLayout, "seed \(random.seed) round \(round): written anew:\n\(current)")
                for other in others {
                    #expect(edit.text.contains(other), "seed \(random.seed) round \(round): lost\n\(other)\nfrom\n\(edit.text)")
                }
                current = edit.text
            }
        }
    }

    static func randomManifest(_ random: inout SeededGenerator) -> (String, [String]) {
        let comment = Bool.random(using: &random) ? "   # note" : ""
        let existing = Bool.random(using: &random) ? #"'{"kind":"sleep"}'"# : nil
        var annotationEntries = ["team: payments"]
        if let existing { annotationEntries.insert("\(key): \(existing)", at: Int.random(in: 0...1, using: &random)) }
        let sleepInfo: String
        switch Int.random(in: 0..<3, using: &random) {
        case 0:
            sleepInfo = """
                apiVersion: kube-green.com/v1alpha1
                kind: SleepInfo
                metadata:
                  name: office-hours\(comment)
                  annotations:
                \(annotationEntries.map { "    " + $0 }.joined(separator: "\n"))
                  namespace: payments
                spec:
                  weekdays: "1-5"
                  sleepAt: "20:00"
                """
        case 1:
            sleepInfo = """
                apiVersion: kube-green.com/v1alpha1
                kind: SleepInfo
                metadata: {name: office-hours, annotations: {\(annotationEntries.joined(separator: ", "))}}\(comment)
                spec: {weekdays: "1-5", sleepAt: "20:00"}
                """
        default:
            sleepInfo = """
                apiVersion: kube-green.com/v1alpha1
                kind: SleepInfo
                metadata:
                  name: office-hours
                  annotations: {\(annotationEntries.joined(separator: ", "))}\(comment)
                spec: {weekdays: "1-5", sleepAt: "20:00"}
                """
        }
        let others = (0..<Int.random(in: 0...2, using: &random)).map { index in
            "# other \(index)\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c\(index)}\ndata: {k: \"v: \(index)\"}   # kept"
        }
        var documents = others
        documents.insert(sleepInfo, at: Int.random(in: 0...documents.count, using: &random))
        return (documents.joined(separator: "\n---\n") + "\n", others)
    }
}
