import Foundation
import JSON
import Kube
import TestSupport
import Testing

/// `sandman schedule explain`, run as the binary.
@Suite("sandman schedule explain")
struct ScheduleExplainTests {
    func explain(_ arguments: [String]) async throws -> ProcessOutput {
        try await ProcessOutput.run(HubFixture.binary, arguments: ["schedule", "explain"] + arguments, environment: ["NO_COLOR": "1"], timeout: .seconds(120))
    }

    @Test func optionsGiveTheNextTransitionsInUTCAndLocalTimeAcrossADSTChange() async throws {
        let output = try await explain(["--weekdays", "1-5", "--sleep-at", "20:00", "--wake-up-at", "08:00", "--time-zone", "America/New_York", "--at", "2027-03-12T18:00:00Z", "--count", "3"])
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "at 2027-03-12T18:00:00Z (Fri 2027-03-12 13:00 -05:00 America/New_York): awake since wake at Fri 2027-03-12 08:00 -05:00")
        #expect(Array(lines.dropFirst(2)).map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") } == [
            "sleep 2027-03-13T01:00:00Z Fri 2027-03-12 20:00 -05:00",
            "wake 2027-03-15T12:00:00Z Mon 2027-03-15 08:00 -04:00",
            "sleep 2027-03-16T00:00:00Z Mon 2027-03-15 20:00 -04:00",
        ])
    }

    @Test func aSleepInfoFileAsJSON() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write("sleepinfo.yaml", """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: nights, namespace: shop}
            spec: {weekdays: "*", sleepAt: "23:30", wakeUpAt: "00:30", timeZone: Europe/Rome}
            """)
        let output = try await explain([file, "--at", "2027-01-04T22:45:00Z", "--count", "2", "-o", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let json = try JSONValue(parsing: output.stdout)
        #expect(json["state"] == "asleep")
        #expect(json["since"] == "2027-01-04T22:30:00Z")
        #expect(json["transitions"]?.array?.compactMap { $0["utc"]?.string } == ["2027-01-04T23:30:00Z", "2027-01-05T22:30:00Z"])
        #expect(json["transitions"]?.array?.first?["local"] == "Tue 2027-01-05 00:30 +01:00")
    }

    @Test func aClusterFileNeedsAScheduleNameWhenItHasSeveral() async throws {
        let file = repositoryFile("clusters/staging.yaml")
        let ambiguous = try await explain([file])
        #expect(ambiguous.status == 1)
        #expect(ambiguous.stderr.contains("choose one: "), "\(ambiguous.stderr)")
        let unknown = try await explain([file, "--schedule", "nope"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no such hub schedule in the file"), "\(unknown.stderr)")
        let chosen = try await explain([file, "--schedule", "long-weekend", "--at", "2027-01-08T12:00:00Z", "-o", "json"])
        #expect(chosen.status == 0, "\(chosen.stderr)")
        #expect(try JSONValue(parsing: chosen.stdout)["transitions"]?.array?.first?["action"] == "sleep")
    }

    @Test func aManifestOfSeveralDocumentsNamesItsSleepInfos() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let sleepInfo = { (name: String, sleepAt: String) in
            "apiVersion: kube-green.com/v1alpha1\nkind: SleepInfo\nmetadata: {name: \(name), namespace: shop}\nspec: {weekdays: \"*\", sleepAt: \"\(sleepAt)\"}\n"
        }
        let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        let one = try directory.write("one.yaml", deployment + "---\n" + sleepInfo("nights", "20:00"))
        let single = try await explain([one, "--at", "2027-01-04T12:00:00Z", "-o", "json"])
        #expect(single.status == 0, "\(single.stderr)")
        #expect(try JSONValue(parsing: single.stdout)["transitions"]?.array?.first?["utc"] == "2027-01-04T20:00:00Z")

        let two = try directory.write("two.yaml", sleepInfo("nights", "20:00") + "---\n" + sleepInfo("late", "23:00"))
        let ambiguous = try await explain([two])
        #expect(ambiguous.status == 1)
        #expect(ambiguous.stderr.contains("two.yaml: --schedule: \"\": the file has 2 SleepInfos; choose one: shop/nights, shop/late"), "\(ambiguous.stderr)")
        let chosen = try await explain([two, "--schedule", "shop/late", "--at", "2027-01-04T12:00:00Z", "-o", "json"])
        #expect(chosen.status == 0, "\(chosen.stderr)")
        #expect(try JSONValue(parsing: chosen.stdout)["transitions"]?.array?.first?["utc"] == "2027-01-04T23:00:00Z")

        let broken = try directory.write("broken.yaml", "spec: {weekdays: x}\n---\na: b: c\n")
        let invalid = try await explain([broken])
        #expect(invalid.status == 1)
        #expect(invalid.stderr.hasPrefix("\(broken):3: invalid YAML: mapping values are not allowed"), "\(invalid.stderr)")
    }

    @Test func badInputIsNamed() async throws {
        let days = try await explain(["--weekdays", "1-9", "--sleep-at", "20:00"])
        #expect(days.status == 1)
        #expect(days.stderr.contains("weekdays: \"1-9\": invalid day-of-week field: 9 is outside 0-6"))
        let at = try await explain(["--weekdays", "1-5", "--sleep-at", "20:00", "--at", "tomorrow"])
        #expect(at.status == 1)
        #expect(at.stderr.contains("--at: \"tomorrow\" is not an RFC 3339 time"))
        let nothing = try await explain([])
        #expect(nothing.status == 1)
        #expect(nothing.stderr.contains("give a FILE, or --weekdays and --sleep-at"))
    }
}
