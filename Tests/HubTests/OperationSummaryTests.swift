import Foundation
import JSON
import Store
import TestSupport
import Testing
@testable import Hub

/// An operation's summary as its units' parts are written, a batch at a time.
struct OperationSummaryTests {
    private static func part(done: [String], failed: [String] = []) -> JSONValue {
        [
            "planned": .array((done + failed).map(JSONValue.string)), "done": .array(done.map(JSONValue.string)),
            "skipped": [], "failed": .array(failed.map { ["object": .string($0), "error": "boom"] }), "releasedCPU": .double(0.5),
        ]
    }

    @Test func partsWrittenInBatchesMakeTheSameSummaryAsOneAtATime() throws {
        var generator = SeededGenerator()
        for _ in 0..<50 {
            let parts = (0..<Int.random(in: 1...30, using: &generator)).map { index in
                OperationSummary.Part(
                    namespace: "team-\(Int.random(in: 0..<6, using: &generator))", unit: "unit-\(Int.random(in: 0..<2, using: &generator))",
                    summary: Self.part(done: ["Deployment.apps/app-\(index)"], failed: index % 7 == 0 ? ["Deployment.apps/bad-\(index)"] : [])
                )
            }
            var oneByOne: String?
            for part in parts { oneByOne = OperationSummary.adding([part], to: oneByOne).serialized() }
            var batched: String?
            var rest = parts[...]
            while !rest.isEmpty {
                let batch = rest.prefix(Int.random(in: 1...5, using: &generator))
                batched = OperationSummary.adding(Array(batch), to: batched).serialized()
                rest = rest.dropFirst(batch.count)
            }
            #expect(oneByOne == batched, "seed \(generator.seed)")
            // The last part written for a unit is the one kept, and the totals add the units up.
            let summary = try JSONValue(parsing: try #require(batched))
            var kept: [String: JSONValue] = [:]
            for part in parts { kept["\(part.namespace)/\(part.unit)"] = part.summary }
            let done = kept.keys.sorted().flatMap { key in
                (kept[key]?["done"]?.array ?? []).map { "\(key.split(separator: "/")[0])/\($0.string ?? "")" }
            }
            #expect(Set(summary["done"]?.array?.compactMap(\.string) ?? []) == Set(done), "seed \(generator.seed)")
            #expect(summary["releasedCPU"]?.double == Double(kept.count) * 0.5, "seed \(generator.seed)")
        }
    }

    @Test func aRevertStoredBetweenTwoWritesOfAUnitIsKept() throws {
        let unit = OperationSummary.Part(namespace: "shop", unit: "night", summary: Self.part(done: ["Deployment.apps/api", "Deployment.apps/web"]))
        let first = OperationSummary.adding([unit], to: nil).serialized()
        let revert: [JSONValue] = [["object": "Deployment.apps/api", "error": "reverted by Argo CD application shop"]]
        let reverted = try #require(OperationSummary.reverted(revert, of: "shop", unit: "night", in: first))
        // The unit's part written again (a resumed run) after the revert.
        let rewritten = try JSONValue(parsing: OperationSummary.adding([unit], to: reverted).serialized())
        #expect(rewritten[path: ["namespaces", "shop", "units", "night", "done"]] == ["Deployment.apps/web"])
        #expect(rewritten["done"] == ["shop/Deployment.apps/web"])
        #expect(rewritten["failed"]?.array?.compactMap { $0["object"]?.string } == ["shop/Deployment.apps/api"])
        #expect(OperationSummary.state(of: rewritten) == .partial)
        // Reverting the same object again changes nothing.
        let again = try #require(OperationSummary.reverted(revert, of: "shop", unit: "night", in: rewritten.serialized()))
        #expect(try JSONValue(parsing: again) == rewritten)
    }
}
