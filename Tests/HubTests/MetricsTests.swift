import Foundation
import Hub
import JSON
import TestSupport
import Testing

/// `/metrics` as Prometheus reads it: every family documented, the seed's three metrics with
/// their exact names and labels, operations counted once and only when finished.
@Suite("Metrics", .serialized, .awaitingCleanup)
struct MetricsTests {
    /// The seed's families and their label names, in order.
    static let seedFamilies: [String: [String]] = [
        "kube_green_sleep_operations_total": ["environment", "operation", "status"],
        "kube_green_resources_scaled_total": ["environment", "resource_type", "namespace"],
        "kube_green_cost_savings_estimate_dollars": ["environment", "time_period"],
    ]
    static let finalStatuses: Set<String> = ["success", "partial", "failed", "superseded"]

    @Test func everyFamilyHasHelpAndTheSeedMetricsKeepTheirNamesLabelsAndFinalStatuses() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", HubEndToEndTests.officeHours)], start: HubEndToEndTests.monday)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("payments-api", deployments: 1))
        try await fixture.startHub()
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count == 2 })

        // One person's sleep over two namespaces is one operation.
        let sleep = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop","payments-api"]}"#)
        #expect(sleep.status == 202, "\(sleep.body)")
        let id = try #require(sleep.body[path: ["operation", "id"]]?.string)
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/operations/\(id)"))?.body[path: ["operation", "state"]] == "succeeded" })

        var exposition = MetricsExposition(text: "")
        #expect(await eventually {
            exposition = MetricsExposition(text: (try? await URLRequestLike(method: "GET", url: fixture.url + "/metrics").send())?.body.string ?? "")
            return exposition.samples.keys.contains { $0.hasPrefix("kube_green_cost_savings_estimate_dollars{") }
                && exposition.samples.keys.contains { $0.hasPrefix("kube_green_sleep_operations_total{") }
                && exposition.samples[#"sandman_namespaces{cluster="staging",environment="staging",state="asleep"}"#] == 2
        })
        for family in exposition.families {
            #expect(exposition.help[family]?.isEmpty == false, "no # HELP for \(family)")
        }
        for (family, labels) in Self.seedFamilies {
            let series = exposition.series(of: family)
            #expect(!series.isEmpty, "\(family) is missing")
            for labelSet in series {
                #expect(labelSet.map(\.name) == labels, "\(family) has labels \(labelSet.map(\.name)), not \(labels)")
            }
        }
        for labelSet in exposition.series(of: "kube_green_sleep_operations_total") {
            let status = labelSet.first { $0.name == "status" }?.value ?? ""
            #expect(Self.finalStatuses.contains(status), "status \(status) is not a final one")
        }
        let sleeps = #"kube_green_sleep_operations_total{environment="staging",operation="sleep",status="success"}"#
        #expect(exposition.samples[sleeps] == 1, "one operation over two namespaces counts once")
        #expect(exposition.samples[#"kube_green_resources_scaled_total{environment="staging",resource_type="Deployment.apps",namespace="payments-api"}"#] == 1)
        #expect(exposition.samples[#"sandman_namespaces{cluster="staging",environment="staging",state="asleep"}"#] == 2)
        #expect(exposition.samples[#"sandman_namespace_asleep{cluster="staging",namespace="shop"}"#] == 1)
        #expect(exposition.samples[#"sandman_overrides_active{cluster="staging"}"#] == 2, "one override per namespace asked")
        #expect(exposition.samples[#"sandman_notification_outbox_messages{state="given_up"}"#] == 0)
        let last = try #require(exposition.samples[#"sandman_namespace_last_transition_timestamp_seconds{cluster="staging",namespace="shop",operation="sleep"}"#])
        #expect(last == fixture.clock.now.timeIntervalSince1970)
    }
}

/// The Prometheus text format, read the simple way: samples by series, `# HELP` and `# TYPE` by family.
struct MetricsExposition {
    var samples: [String: Double] = [:]
    var help: [String: String] = [:]
    var types: [String: String] = [:]

    init(text: String) {
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 3).map(String.init)
            if words.first == "#", words.count >= 3 {
                if words[1] == "HELP" { help[words[2]] = words.count > 3 ? words[3] : "" }
                if words[1] == "TYPE" { types[words[2]] = words.count > 3 ? words[3] : "" }
            } else if let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) {
                samples[String(line[..<space])] = value
            }
        }
    }

    var families: [String] { types.keys.sorted() }

    /// The label sets of a family's series, each in the order served.
    func series(of family: String) -> [[(name: String, value: String)]] {
        samples.keys.filter { $0.hasPrefix(family + "{") }.map { key in
            let inner = key.dropFirst(family.count + 1).dropLast()
            return inner.split(separator: ",").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
            }
        }
    }
}
