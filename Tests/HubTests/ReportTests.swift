import Hub
import JSON
import Testing

@Suite("CLI reports")
struct ReportTests {
    static func cluster(_ name: String, owner: String?) -> JSONValue {
        [
            "name": .string(name), "tier": "staging", "ready": true, "reachable": true, "version": "v1.31",
            "namespaces": ["asleep": 1, "managed": 2], "nextTransition": .null, "savings": ["week": 12.5],
            "owner": owner.map(JSONValue.string) ?? .null,
        ]
    }

    func rows(_ text: String) -> [[String]] {
        text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
    }

    @Test func statusShowsOwnersOnlyWhenReplicasShareTheClusters() {
        let single = rows(Report.statusTable([Self.cluster("staging", owner: nil)], colors: false))
        #expect(single.first == ["CLUSTER", "TIER", "STATUS", "VERSION", "ASLEEP", "NEXT", "SAVED", "(7D)"])
        #expect(single.last == ["staging", "staging", "Ready", "v1.31", "1/2", "-", "$12.50"])

        let shared = rows(Report.statusTable([Self.cluster("dev", owner: "hub-b"), Self.cluster("staging", owner: "hub-a")], colors: false))
        #expect(shared.first?.last == "OWNER")
        #expect(shared.dropFirst().map { $0.last } == ["hub-b", "hub-a"])
    }

    @Test func namespacesShowWhatHoldsATransitionBack() {
        let namespace: JSONValue = [
            "cluster": "dev", "namespace": "web", "state": "awake", "unit": "hub-nights", "nextTransition": .null,
            "override": .null, "problem": .null, "heldBy": ["plugin": "policy/default.lua", "reason": "not before 18:00"],
        ]
        let text = Report.namespacesTable([namespace], cluster: nil, colors: false)
        #expect(text.split(separator: "\n").last?.hasSuffix("held by policy/default.lua: not before 18:00") == true, "\(text)")
    }
}
