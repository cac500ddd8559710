import Foundation
import Hub
import JSON
import Testing

@Suite("CLI reports")
struct ReportTests {
    static func cluster(_ name: String, owner: String?) -> JSONValue {
        [
            "name": .string(name), "tier": "staging", "ready": true, "reachable": true, "version": "v1.31",
            "namespaces": ["asleep": 1, "managed": 2], "nextTransition": .null, "savings": ["week": 12.5],
            "owner": owner.map(JSONValue.string) ?? .null, "lastProbe": "2027-01-04T12:00:00Z",
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

    @Test(arguments: [
        (true, true, "2027-01-04T12:00:00Z", "Ready"), (false, true, "2027-01-04T12:00:00Z", "NotReady"),
        (false, false, "2027-01-04T12:00:00Z", "Unreachable"), (false, false, nil, "Connecting"),
    ])
    func statusSaysWhatIsKnownOfTheCluster(ready: Bool, reachable: Bool, lastProbe: String?, expected: String) {
        var cluster = Self.cluster("staging", owner: nil)
        cluster["ready"] = .bool(ready)
        cluster["reachable"] = .bool(reachable)
        cluster["lastProbe"] = lastProbe.map(JSONValue.string) ?? .null
        #expect(rows(Report.statusTable([cluster], colors: false)).last?[2] == expected)
    }

    @Test func namespacesShowWhatHoldsATransitionBack() {
        let namespace: JSONValue = [
            "cluster": "dev", "namespace": "web", "state": "awake", "unit": "hub-nights", "nextTransition": .null,
            "override": .null, "problem": .null, "heldBy": ["plugin": "policy/default.lua", "reason": "not before 18:00"],
        ]
        let text = Report.namespacesTable([namespace], cluster: nil, colors: false)
        let row = String(text.split(separator: "\n").last ?? "")
        #expect(row.contains("held by policy/default.lua"), "NEXT says what holds it: \(text)")
        #expect(row.hasSuffix("not before 18:00"), "NOTE says why: \(text)")
    }

    static let utc = TimeZone(identifier: "UTC")!
    static let now = try! Date("2027-01-04T12:00:00Z", strategy: .iso8601)

    /// Times show the weekday within six days of now, else the date; always the zone.
    @Test(arguments: [
        ("2027-01-04T20:00:00Z", "UTC", "Mon 20:00 UTC"),
        ("2027-01-09T06:25:00Z", "UTC", "Sat 06:25 UTC"),
        ("2027-01-11T06:25:00Z", "UTC", "2027-01-11 06:25 UTC"),
        ("2054-03-07T06:25:00Z", "UTC", "2054-03-07 06:25 UTC"),
        ("2026-12-01T08:00:00Z", "UTC", "2026-12-01 08:00 UTC"),
        ("2027-01-04T20:00:00Z", "America/New_York", "Mon 15:00 EST"),
    ])
    func timesShowTheDateWhenFarAndTheZone(at: String, zone: String, expected: String) {
        let text = Report.localTime(at, zone: TimeZone(identifier: zone)!, now: Self.now)
        // Systems without zone names write offsets instead (-0500).
        #expect(text == expected || text == expected.replacingOccurrences(of: "EST", with: "-0500"))
    }

    static let overrideCases: [(JSONValue, String)] = [
        (["kind": "wake", "scope": "namespace", "until": "2054-03-07T06:25:00Z"], "wake until 2054-03-07 06:25 UTC"),
        (["kind": "sleep", "scope": "cluster", "until": .null], "cluster: sleep until cleared"),
        (["kind": "skip", "scope": "namespace", "until": .null], "skip next transition"),
    ]

    @Test(arguments: overrideCases)
    func overridesSayWhenTheyEnd(item: JSONValue, expected: String) {
        let namespace: JSONValue = ["namespace": "web", "state": "awake", "unit": "u", "nextTransition": .null, "override": item]
        let text = Report.namespacesTable([namespace], cluster: "dev", colors: false, zone: Self.utc)
        #expect(text.contains(expected), "\(text)")
    }
}
