import Foundation
@testable import Hub
import TestSupport
import Testing

/// Issue 16, items 1 and 2: a captured request cannot be replayed under another spelling of its
/// signature, and remembering what was seen costs the same however busy the hub is.
@Suite("Slack replay protection")
struct SlackReplayTests {
    static let secret = "8f742231b10e8888abcd99yyyzzz85a5"
    static let timestamp = "1800000000"
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A body whose signature has a byte written with a leading 0, so that "+f" can stand for "0f".
    static func signedBody() -> (body: String, signature: String, zeroByte: Int) {
        for attempt in 0..<1000 {
            let body = "command=%2Fk8s-wake&text=staging+payments&user_id=U1&n=\(attempt)"
            let signature = SlackVerifier.signature(secret: secret, timestamp: timestamp, body: Data(body.utf8))
            let hex = Array(signature.dropFirst(3))
            if let byte = stride(from: 0, to: hex.count, by: 2).first(where: { hex[$0] == "0" }) { return (body, signature, byte) }
        }
        fatalError("no signature with a byte below 0x10 in 1000 bodies")
    }

    @Test func onlyTheLowerCaseHexSlackSendsIsAcceptedAndNoRespellingReplaysIt() throws {
        let (body, signature, zeroByte) = Self.signedBody()
        let hex = String(signature.dropFirst(3))
        var plus = Array(hex)
        plus[zeroByte] = "+"
        let partlyUpper: String = hex.prefix(9).uppercased() + hex.dropFirst(9)
        let respellings: [String] = [
            "v0=\(hex.uppercased())", "v0=\(partlyUpper)", "V0=\(hex)", "v0=\(String(plus))", "\(signature) ", " \(signature)",
            "\(signature)00", "v0=\(hex.dropLast(2))", "v0=0x\(hex.dropFirst(2))",
        ]
        let verifier = SlackVerifier(secrets: [Self.secret])
        for spelling in respellings {
            #expect(throws: SlackVerifier.Rejection.badSignature, "\(spelling)") {
                try verifier.verify(timestamp: Self.timestamp, signature: spelling, body: Data(body.utf8), now: now)
            }
        }
        try verifier.verify(timestamp: Self.timestamp, signature: signature, body: Data(body.utf8), now: now)
        #expect(throws: SlackVerifier.Rejection.replayed) {
            try verifier.verify(timestamp: Self.timestamp, signature: signature, body: Data(body.utf8), now: now.addingTimeInterval(299))
        }
        for spelling in respellings {
            #expect(throws: SlackVerifier.Rejection.badSignature, "\(spelling) after the original") {
                try verifier.verify(timestamp: Self.timestamp, signature: spelling, body: Data(body.utf8), now: now)
            }
        }
        // Timestamps are whole seconds in digits, as Slack sends them.
        for timestamp in ["+1800000000", "1800000000.0", "1.8e9", " 1800000000", "0x6B49D200"] {
            #expect(throws: SlackVerifier.Rejection.malformedTimestamp, "\(timestamp)") {
                try verifier.verify(timestamp: timestamp, signature: signature, body: Data(body.utf8), now: now)
            }
        }
    }

    @Test func signaturesAreForgottenOnceTheirTimestampLeavesTheWindowAndMemoryIsBounded() throws {
        let verifier = SlackVerifier(secrets: [Self.secret], replayCapacity: 50)
        func sign(_ index: Int, at timestamp: Int) -> (String, Data) {
            let body = Data("text=\(index)".utf8)
            return (SlackVerifier.signature(secret: Self.secret, timestamp: String(timestamp), body: body), body)
        }
        let start = 1_800_000_000
        for index in 0..<50 {
            let (signature, body) = sign(index, at: start)
            try verifier.verify(timestamp: String(start), signature: signature, body: body, now: now)
        }
        #expect(verifier.remembered == 50)
        let (fiftyFirst, body) = sign(50, at: start)
        #expect(throws: SlackVerifier.Rejection.overloaded) {
            try verifier.verify(timestamp: String(start), signature: fiftyFirst, body: body, now: now)
        }
        #expect(SlackVerifier.Rejection.overloaded.status == 429)
        // Five minutes and a second later every copy would be stale: all forgotten.
        let later = start + 301
        let (next, nextBody) = sign(51, at: later)
        try verifier.verify(timestamp: String(later), signature: next, body: nextBody, now: Date(timeIntervalSince1970: TimeInterval(later)))
        #expect(verifier.remembered == 1)
    }

    /// The replay memory against a plain dictionary, over random arrivals, replays, pauses and
    /// clocks that jump back.
    @Test func replayMemoryAgreesWithAPlainDictionary() {
        var generator = SeededGenerator()
        let seed = generator.seed
        var memory = ReplayMemory(capacity: 300)
        var model: [Int: Int64] = [:]
        var now: Int64 = 1_800_000_000
        var macs: [Int] = []
        for step in 0..<5_000 {
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<2: now += Int64.random(in: 0...2000, using: &generator)
            case 2..<3: now -= Int64.random(in: 0...30, using: &generator)
            case 3..<40: now += Int64.random(in: 0...3, using: &generator)
            default: break
            }
            let replay = !macs.isEmpty && Bool.random(using: &generator)
            let id = replay ? macs.randomElement(using: &generator)! : step
            if !replay { macs.append(id) }
            let timestamp = now + Int64.random(in: -300...300, using: &generator)
            let expiry = timestamp + 300
            let mac = ReplayMemory.MAC((0..<32).map { UInt8(truncatingIfNeeded: id >> (($0 % 8) * 8)) ^ UInt8($0) })!
            let expected: ReplayMemory.Outcome
            model = model.filter { $0.value >= now }
            if let known = model[id], known >= now {
                expected = .replayed
            } else if model.count >= 300 {
                expected = .full
            } else {
                expected = .fresh
                model[id] = expiry
            }
            let outcome = memory.insert(mac, expiry: expiry, now: now)
            if outcome != expected || memory.count > 300 {
                Issue.record("step \(step) (seed \(seed)): \(outcome), expected \(expected); remembered \(memory.count), model \(model.count)")
                return
            }
        }
    }

    @Test(arguments: [
        // (seconds after the first rejection, expected: recorded?, unrecorded count carried)
        ([0, 1, 2], [true, true, true], [0, 0, 0]),
        ([0, 1, 2, 3, 4, 5], [true, true, true, false, false, false], [0, 0, 0, 0, 0, 0]),
        ([0, 1, 2, 3, 4, 60, 61], [true, true, true, false, false, true, true], [0, 0, 0, 0, 0, 2, 0]),
    ])
    func rejectedRequestsAreAuditedAFewPerMinute(seconds: [Int], recorded: [Bool], carried: [Int]) {
        var audit = RejectionAudit(perMinute: 3)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let results = seconds.map { audit.admit(at: start.addingTimeInterval(TimeInterval($0))) }
        #expect(results.map(\.record) == recorded)
        #expect(results.map(\.unrecordedBefore) == carried)
    }
}
