import Foundation
import JSON
import Kube
import KubeSim
import TestSupport
import Testing
@testable import Sleep

/// Which objects a SleepInfo's excludeRef and includeRef leave to sleep, case by case as
/// kube-green decides (internal/controller/sleepinfo/jsonpatch/genericresources.go
/// `getListOptions`), each case naming the kube-green test or source it comes from.
@Suite("kube-green's excludeRef and includeRef", .awaitingCleanup)
struct KubeGreenSelectionTests {
    struct Item: Sendable {
        var kind: String
        var name: String
        var labels: [String: String] = [:]

        var object: JSONValue {
            // What a real API server takes: a selector matching the pod template, a container.
            let pod: JSONValue = ["containers": [["name": "app", "image": "app"]]]
            let (apiVersion, spec): (String, JSONValue) = switch kind {
            case "CronJob": ("batch/v1", [
                "schedule": "0 * * * *", "suspend": false,
                "jobTemplate": ["spec": ["template": ["spec": ["containers": [["name": "job", "image": "job"]], "restartPolicy": "OnFailure"]]]],
            ])
            default: ("apps/v1", [
                "replicas": 1, "selector": ["matchLabels": ["app": .string(name)]],
                "template": ["metadata": ["labels": ["app": .string(name)]], "spec": pod],
            ])
            }
            return [
                "apiVersion": .string(apiVersion), "kind": .string(kind),
                "metadata": ["name": .string(name), "labels": .object(labels.mapValues(JSONValue.string))], "spec": spec,
            ]
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var source: String
        var excludeRef: JSONValue = []
        var includeRef: JSONValue = []
        var items: [Item]
        /// `Kind/name` of what sleeps, sorted.
        var selected: [String]
        /// What kube-green selects when Sandman deliberately differs.
        var kubeGreenSelects: [String]?
        var testDescription: String { source }
    }

    static let listResources: [Item] = [
        Item(kind: "Deployment", name: "d1"),
        Item(kind: "Deployment", name: "d2", labels: ["kube-green.dev/exclude": "true"]),
        Item(kind: "Deployment", name: "d3", labels: ["kube-green.dev/exclude": "true"]),
        Item(kind: "Deployment", name: "d4", labels: ["kube-green.dev/include": "true"]),
        Item(kind: "Deployment", name: "d5", labels: ["kube-green.dev/include": "true"]),
    ]

    static let inclusions: [Item] = ["echo-service-replica-1", "echo-service-replica-4", "sleep", "sleep-with-label"].flatMap { name in
        ["Deployment", "StatefulSet"].map { Item(kind: $0, name: name, labels: ["app": name]) }
    } + [Item(kind: "CronJob", name: "nightly")]

    static func ref(_ kind: String, _ name: String, apiVersion: String = "apps/v1") -> JSONValue {
        ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name)]
    }

    static let cases: [Case] = [
        Case(
            source: "genericresources_test.go TestListResources: exclude configured resources by name",
            excludeRef: [ref("Deployment", "d1"), ref("Deployment", "d2"), ref("StatefulSet", "d3")],
            items: Array(listResources.prefix(4)), selected: ["Deployment/d3", "Deployment/d4"]
        ),
        Case(
            source: "genericresources_test.go TestListResources: exclude by labels, and a name of another kind",
            excludeRef: [["matchLabels": ["kube-green.dev/exclude": "true"]], ref("StatefulSet", "d1")],
            items: Array(listResources.prefix(4)), selected: ["Deployment/d1", "Deployment/d4"]
        ),
        Case(
            source: "genericresources_test.go TestListResources: include configured resources by name",
            includeRef: [ref("Deployment", "d1")], items: Array(listResources.prefix(4)), selected: ["Deployment/d1"]
        ),
        Case(
            source: "genericresources_test.go TestListResources: include configured resources by labels",
            includeRef: [["matchLabels": ["kube-green.dev/include": "true"]]], items: Array(listResources.prefix(4)), selected: ["Deployment/d4"]
        ),
        Case(
            source: "genericresources_test.go TestListResources: include by labels and exclude by name",
            excludeRef: [ref("Deployment", "d5")], includeRef: [["matchLabels": ["kube-green.dev/include": "true"]]],
            items: listResources, selected: ["Deployment/d4"]
        ),
        Case(
            source: "tests/e2e/inclusions-with-name: a name restricts only its own kind (CronJobs stay selected)",
            includeRef: [ref("Deployment", "sleep"), ref("StatefulSet", "sleep")],
            items: inclusions, selected: ["CronJob/nightly", "Deployment/sleep", "StatefulSet/sleep"]
        ),
        Case(
            source: "tests/e2e/inclusions-with-label: labels restrict every kind",
            includeRef: [["matchLabels": ["app": "sleep-with-label"]]],
            items: inclusions, selected: ["Deployment/sleep-with-label", "StatefulSet/sleep-with-label"]
        ),
        Case(
            source: "genericresources.go getLabelsToExclude: each pair becomes KEY!=VALUE, ANDed: any one pair excludes",
            excludeRef: [["matchLabels": ["team": "infra", "keep": "awake"]]],
            items: [
                Item(kind: "Deployment", name: "infra", labels: ["team": "infra"]), Item(kind: "Deployment", name: "awake", labels: ["keep": "awake"]),
                Item(kind: "Deployment", name: "both", labels: ["team": "infra", "keep": "awake"]),
                Item(kind: "Deployment", name: "other", labels: ["team": "shop", "keep": "asleep"]), Item(kind: "Deployment", name: "plain"),
            ],
            selected: ["Deployment/other", "Deployment/plain"]
        ),
        Case(
            source: "genericresources.go getLabelsToInclude: pairs of several entries are ANDed",
            includeRef: [["matchLabels": ["team": "shop"]], ["matchLabels": ["tier": "web"]]],
            items: [
                Item(kind: "Deployment", name: "shop-web", labels: ["team": "shop", "tier": "web"]),
                Item(kind: "Deployment", name: "shop-db", labels: ["team": "shop", "tier": "db"]), Item(kind: "StatefulSet", name: "web", labels: ["tier": "web"]),
            ],
            selected: ["Deployment/shop-web"]
        ),
        Case(
            source: "genericresources.go getListOptions: an included name and included labels are ANDed",
            includeRef: [ref("Deployment", "d4"), ["matchLabels": ["kube-green.dev/include": "true"]]],
            items: listResources + [Item(kind: "StatefulSet", name: "s1", labels: ["kube-green.dev/include": "true"]), Item(kind: "StatefulSet", name: "s2")],
            selected: ["Deployment/d4", "StatefulSet/s1"]
        ),
        Case(
            source: "genericresources.go matchPatchTargetAndFilterRef: the group comes from apiVersion",
            excludeRef: [ref("Deployment", "d1", apiVersion: "apps.example.com/v1"), ref("CronJob", "d2", apiVersion: "apps/v1")],
            items: Array(listResources.prefix(2)) + [Item(kind: "CronJob", name: "d2")],
            selected: ["CronJob/d2", "Deployment/d1", "Deployment/d2"]
        ),
        Case(
            source: "kube-green issue #472 (open): several included names of one kind; kube-green ANDs them and selects none",
            includeRef: [ref("Deployment", "d1"), ref("Deployment", "d4")], items: listResources,
            selected: ["Deployment/d1", "Deployment/d4"], kubeGreenSelects: []
        ),
    ]

    static func sleepInfo(_ testCase: Case, namespace: String = "shop") -> SleepInfo {
        var sleepInfo = SleepInfo(name: "nights", namespace: namespace)
        sleepInfo.object["spec"] = [
            "weekdays": "*", "sleepAt": "20:00", "suspendCronJobs": true,
            "excludeRef": testCase.excludeRef, "includeRef": testCase.includeRef,
        ]
        return sleepInfo
    }

    @Test(arguments: cases)
    func sandmanSelects(_ testCase: Case) throws {
        let spec = try SleepSpec(sleepInfo: Self.sleepInfo(testCase))
        let kinds: [ResourceKind] = [.deployment, .statefulSet, .cronJob]
        let objects = kinds.map { kind in (kind, testCase.items.filter { $0.kind == kind.kind }.map(\.object)) }
        let plan = SleepPlanner.plan(spec: spec, objects: objects, existing: RestoreData())
        #expect(plan.changes.map { "\($0.ref.groupAndKind.kind)/\($0.ref.name)" }.sorted() == testCase.selected)
        #expect(plan.skipped.allSatisfy { [.excluded, .notIncluded].contains($0.reason) })
    }

    /// The same cases listed with kube-green's own selectors by a KubeSim API server.
    @Test func kubeGreensSelectorsAgree() async throws {
        let sim = try await KubeSim.start()
        defer { afterTest { await sim.shutdown() } }
        let client = try SleepFixture.client(for: sim)
        for (index, testCase) in Self.cases.enumerated() {
            let namespace = "case-\(index)"
            var manifests = ["apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}"]
            for item in testCase.items {
                var object = item.object
                object[path: ["metadata", "namespace"]] = .string(namespace)
                manifests.append(object.serialized())
            }
            try await sim.load(manifests: manifests.joined(separator: "\n---\n"))
            let sleepInfo = Self.sleepInfo(testCase, namespace: namespace).object
            var selected: [String] = []
            for target in try KubeGreen.patches(of: sleepInfo) {
                let items = try await KubeGreen(client: client).list(target, namespace: namespace, sleepInfo: sleepInfo)?.1 ?? []
                selected += items.map { "\(target.kind)/\($0[path: ["metadata", "name"]]?.string ?? "")" }
            }
            #expect(selected.sorted() == testCase.kubeGreenSelects ?? testCase.selected, "\(testCase.source)")
        }
    }
}
