import ArgoSim
import JSON
import Testing

/// The comparison behind Synced/OutOfSync. Source: Argo CD's `util/argo/diff` and
/// `controller/state.go` (only what the manifest sets is compared against the live object;
/// `ignoreDifferences` JSON pointers are removed from both sides for matching group/kind/name/namespace).
@Suite("ArgoSim drift")
struct DriftTests {
    static let desired: JSONValue = [
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": ["name": "api", "namespace": "payments", "labels": ["app": "api"]],
        "spec": ["replicas": 3, "template": ["spec": ["containers": [["name": "api", "image": "api:1"]]]]],
    ]

    static func live(_ change: (inout JSONValue) -> Void) -> JSONValue {
        var live = desired
        live[path: ["metadata", "uid"]] = "1234"
        live[path: ["metadata", "resourceVersion"]] = "7"
        live[path: ["metadata", "labels", "pod-template-hash"]] = "abc"
        live[path: ["spec", "strategy"]] = ["type": "RollingUpdate"]
        live[path: ["status"]] = ["readyReplicas": 3]
        change(&live)
        return live
    }

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var live: JSONValue
        var rules: [Drift.Rule]
        var expected: [String]
        var description: String { name }
    }

    static let replicas = Drift.Rule(group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"])

    static let cases: [Case] = [
        Case(name: "server-added fields do not count", live: live { _ in }, rules: [], expected: []),
        Case(name: "scaled to zero", live: live { $0[path: ["spec", "replicas"]] = 0 }, rules: [], expected: ["/spec/replicas"]),
        Case(name: "scaled to zero, replicas ignored", live: live { $0[path: ["spec", "replicas"]] = 0 }, rules: [replicas], expected: []),
        Case(name: "ignored for another group", live: live { $0[path: ["spec", "replicas"]] = 0 },
             rules: [Drift.Rule(group: "", kind: "Deployment", jsonPointers: ["/spec/replicas"])], expected: ["/spec/replicas"]),
        Case(name: "ignored for another name", live: live { $0[path: ["spec", "replicas"]] = 0 },
             rules: [Drift.Rule(group: "apps", kind: "Deployment", name: "worker", jsonPointers: ["/spec/replicas"])], expected: ["/spec/replicas"]),
        Case(name: "wildcard kind", live: live { $0[path: ["spec", "replicas"]] = 0 },
             rules: [Drift.Rule(group: "*", kind: "*", jsonPointers: ["/spec/replicas"])], expected: []),
        Case(name: "image changed", live: live { $0[path: ["spec", "template", "spec", "containers"]] = [["name": "api", "image": "api:2"]] },
             rules: [replicas], expected: ["/spec/template/spec/containers/0/image"]),
        Case(name: "extra container", live: live { $0[path: ["spec", "template", "spec", "containers"]] = [["name": "api", "image": "api:1"], ["name": "sidecar"]] },
             rules: [], expected: ["/spec/template/spec/containers"]),
        Case(name: "tracking label removed", live: live { $0[path: ["metadata", "labels", "app"]] = nil }, rules: [], expected: ["/metadata/labels/app"]),
        Case(name: "missing object", live: .null, rules: [], expected: [""]),
    ]

    @Test(arguments: cases)
    func differences(_ test: Case) {
        let pointers = Drift.ignoredPointers(for: Self.desired, rules: test.rules)
        #expect(Drift.differences(desired: Self.desired, live: test.live, ignoring: pointers) == test.expected)
    }

    @Test func respectIgnoreDifferencesKeepsLiveValues() throws {
        let pointers = Drift.ignoredPointers(for: Self.desired, rules: [Self.replicas])
        let slept = Self.live { $0[path: ["spec", "replicas"]] = 0 }
        // RespectIgnoreDifferences=true: the sync applies the live value of an ignored field.
        #expect(Drift.respectingIgnored(Self.desired, live: slept, pointers: pointers)[path: ["spec", "replicas"]] == 0)
        // A live object without the field: the field is left out of what is applied.
        #expect(Drift.respectingIgnored(Self.desired, live: nil, pointers: pointers)[path: ["spec", "replicas"]] == nil)
        // Other fields stay as git says.
        #expect(Drift.respectingIgnored(Self.desired, live: slept, pointers: pointers)[path: ["metadata", "labels"]] == ["app": "api"])
    }

    @Test func rulesReadFromTheApplicationSpec() throws {
        let spec: JSONValue = ["ignoreDifferences": [
            ["group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]],
            ["kind": "ConfigMap", "name": "cache", "namespace": "payments", "jsonPointers": ["/data"]],
            ["group": "apps", "jsonPointers": ["/spec"]],
        ]]
        #expect(Drift.Rule.rules(from: spec) == [
            Drift.Rule(group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"]),
            Drift.Rule(group: "", kind: "ConfigMap", name: "cache", namespace: "payments", jsonPointers: ["/data"]),
        ])
    }

    @Test func healthOfWorkloads() {
        #expect(Health.of(nil) == .missing)
        #expect(Health.of(["kind": "Deployment", "spec": ["replicas": 3], "status": ["readyReplicas": 1]]) == .progressing)
        #expect(Health.of(["kind": "Deployment", "spec": ["replicas": 3], "status": ["readyReplicas": 3]]) == .healthy)
        #expect(Health.of(["kind": "Deployment", "spec": ["replicas": 0]]) == .healthy)
        #expect(Health.of(["kind": "CronJob", "spec": ["suspend": true]]) == .suspended)
        #expect(Health.of(["kind": "Deployment", "spec": ["replicas": 3, "paused": true]]) == .suspended)
        #expect(Health.of(["kind": "ConfigMap"]) == .healthy)
        #expect([Health.healthy, .missing, .progressing].max() == .missing)
    }
}
