import Config
import Foundation
@testable import Hub
import JSON
import Logging
import Store
import Synchronization
import TestSupport
import Testing

/// The notification outbox on its own: a real SQLite file, a fake Slack Web API, a manual clock.
@Suite("Slack outbox", .awaitingCleanup)
struct SlackDeliveryTests {
    /// An outbox in a fresh SQLite file, delivering to a fake Slack Web API that answers `reply`.
    struct Outbox {
        let slack: TestHTTPServer
        let directory: TemporaryDirectory
        let store: Store
        let clock = ManualClock(now: Date(timeIntervalSince1970: 1_800_000_000))
        let delivery: SlackDelivery

        init(reply: @escaping TestHTTPServer.Handler) async throws {
            slack = try await TestHTTPServer.start(handler: reply)
            directory = try TemporaryDirectory()
            store = try Store(path: directory.path + "/hub.sqlite")
            var settings = HubConfiguration.Slack()
            settings.botToken = "xoxb-test"
            settings.apiURL = slack.baseURL + "/api"
            settings.maxDeliveryAge = .hours(1)
            var logger = Logger(label: "outbox-test")
            logger.logLevel = .critical
            delivery = SlackDelivery(settings: settings, store: store, clock: clock, logger: logger)
        }

        func stop() async {
            await slack.shutdown()
            directory.remove()
        }
    }

    @Test func aMessageIsQueuedOnceAndDeliveredOnce() async throws {
        let received = Recorder<String>()
        let outbox = try await Outbox { request in
            received.append(String(decoding: request.body, as: UTF8.self))
            return .text(200, #"{"ok":true}"#, contentType: "application/json")
        }
        defer { afterTest { await outbox.stop() } }
        let delivery = outbox.delivery

        #expect(await delivery.enqueue(["text": "asleep"], to: .chat, channel: "#web", key: "operation:1:shop"))
        #expect(await delivery.enqueue(["text": "asleep again"], to: .chat, channel: "#web", key: "operation:1:shop") == false)
        await delivery.deliverDue()
        await delivery.deliverDue()
        #expect(received.values.count == 1)
        let message = try JSONValue(parsing: Data(received.values[0].utf8))
        #expect(message["text"] == "asleep")
        #expect(message["channel"] == "#web")
    }

    /// Two replicas' outboxes on one PostgreSQL store, delivering at the same time: Slack gets
    /// each message once.
    @Test func replicasSharingAStoreDeliverEachMessageOnce() async throws {
        let received = Recorder<String>()
        let outbox = try await Outbox { request in
            received.append(String(decoding: request.body, as: UTF8.self))
            return .text(200, #"{"ok":true}"#, contentType: "application/json")
        }
        defer { afterTest { await outbox.stop() } }
        let postgres = try await PostgresServer.shared()
        let url = postgres.url(database: try await postgres.createDatabase())
        var logger = Logger(label: "outbox-test")
        logger.logLevel = .critical
        var settings = HubConfiguration.Slack()
        settings.botToken = "xoxb-test"
        settings.apiURL = outbox.slack.baseURL + "/api"
        var replicas: [SlackDelivery] = []
        var stores: [Store] = []
        for _ in 0..<2 {
            stores.append(try await Store(location: .postgres(try PostgresLocation(url: url)), logger: logger))
            replicas.append(SlackDelivery(settings: settings, store: stores.last!, clock: outbox.clock, logger: logger))
        }
        for index in 0..<60 {
            #expect(await replicas[index % 2].enqueue(["text": .string("m\(index)")], to: .chat, channel: "#web", key: "m\(index)"))
        }
        await withTaskGroup(of: Void.self) { group in
            for replica in replicas {
                group.addTask { for _ in 0..<3 { await replica.deliverDue() } }
            }
        }
        let texts = try received.values.map { try JSONValue(parsing: Data($0.utf8))["text"]?.string ?? "" }
        #expect(texts.count == 60, "\(texts.sorted())")
        #expect(Set(texts) == Set((0..<60).map { "m\($0)" }))
        for store in stores { await store.close() }
    }

    /// A replica stopping in the middle of a delivery pass sees the message it is sending
    /// through, and gives the ones it had not tried back at once: the next start (or another
    /// replica) sends them without waiting for the claim to lapse.
    @Test func aStoppingReplicaGivesBackTheMessagesItHadNotTried() async throws {
        let received = Recorder<String>()
        let firstArrived = Mutex(false)
        let letGo = Mutex(false)
        let outbox = try await Outbox { request in
            received.append(String(decoding: request.body, as: UTF8.self))
            firstArrived.withLock { $0 = true }
            // The first send hangs until the pass has been cancelled.
            while received.values.count == 1, !letGo.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
            return .text(200, #"{"ok":true}"#, contentType: "application/json")
        }
        defer { afterTest { await outbox.stop() } }
        for index in 0..<5 {
            #expect(await outbox.delivery.enqueue(["text": .string("m\(index)")], to: .chat, channel: "#web", key: "m\(index)"))
        }
        let pass = Task { await outbox.delivery.deliverDue() }
        #expect(await eventually { firstArrived.withLock { $0 } })
        pass.cancel()
        letGo.withLock { $0 = true }
        await pass.value
        #expect(received.values.count == 1)

        // The clock has not moved: without the release, the four would wait a minute for their claims.
        var logger = Logger(label: "outbox-test")
        logger.logLevel = .critical
        var settings = HubConfiguration.Slack()
        settings.botToken = "xoxb-test"
        settings.apiURL = outbox.slack.baseURL + "/api"
        let next = SlackDelivery(settings: settings, store: outbox.store, clock: outbox.clock, logger: logger)
        await next.deliverDue()
        let texts = try received.values.map { try JSONValue(parsing: Data($0.utf8))["text"]?.string ?? "" }
        #expect(texts.sorted() == ["m0", "m1", "m2", "m3", "m4"], "\(texts)")
    }

    @Test func aMessageThatCannotBeDeliveredIsGivenUpAfterTheMaximumAgeAndAudited() async throws {
        let attempts = Recorder<Date>()
        let outbox = try await Outbox { _ in
            attempts.append(Date())
            // An operator can mend this one (invite the bot): it is tried until the maximum age.
            return .text(200, #"{"ok":false,"error":"not_in_channel"}"#, contentType: "application/json")
        }
        defer { afterTest { await outbox.stop() } }
        let (delivery, clock, store) = (outbox.delivery, outbox.clock, outbox.store)

        #expect(await delivery.enqueue(["text": "lost"], to: .chat, channel: "#nowhere", key: "k"))
        // Retried with backoff while younger than an hour...
        for _ in 0..<12 {
            await delivery.deliverDue()
            clock.advance(by: 300)
        }
        let tried = attempts.values.count
        #expect(tried >= 10, "\(tried)")
        // ...then given up once, with an audit row, and never tried again.
        clock.advance(by: 3600)
        await delivery.deliverDue()
        await delivery.deliverDue()
        #expect(attempts.values.count == tried)
        let audit = try await store.auditEntries(AuditQuery(since: nil, until: nil, actor: nil, cluster: nil, limit: 10))
        let abandoned = try #require(audit.first { $0.result == "abandoned" })
        #expect(abandoned.target == "#nowhere")
        #expect(abandoned.detail?.contains("Slack error: not_in_channel") == true)
        #expect(abandoned.detail?.contains("given up after \(tried) attempts") == true, "\(abandoned.detail ?? "")")
    }

    /// docs/slack.md: "retried with exponential backoff (2 s, 4 s, ... up to 5 min)".
    @Test func retriesBackOffByDoublingUpToFiveMinutes() async throws {
        let attempts = Recorder<Date>()
        let outbox = try await Outbox { _ in
            attempts.append(Date())
            return .text(503, "down")
        }
        defer { afterTest { await outbox.stop() } }
        let (delivery, clock, store) = (outbox.delivery, outbox.clock, outbox.store)

        #expect(await delivery.enqueue(["text": "later"], to: .chat, channel: "#web", key: "k"))
        var delays: [TimeInterval] = []
        for _ in 0..<11 {
            await delivery.deliverDue()
            let pending = try #require(try await store.dueMessages(at: .distantFuture).first)
            delays.append(pending.nextAttemptAt.timeIntervalSince(clock.now))
            clock.set(pending.nextAttemptAt)
        }
        #expect(delays == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300])
        #expect(attempts.values.count == 11)
    }

    /// Slack's errors about the message itself (python-slack-sdk does not retry them either):
    /// given up at the first answer, audited, and never sent again.
    @Test(arguments: [
        (#"{"ok":false,"error":"invalid_blocks"}"#, 200, "Slack error: invalid_blocks"),
        (#"{"ok":false,"error":"msg_too_long"}"#, 200, "Slack error: msg_too_long"),
    ])
    func aMessageSlackRefusesIsGivenUpAtOnce(answer: String, status: Int, error: String) async throws {
        let attempts = Recorder<Date>()
        let outbox = try await Outbox { _ in
            attempts.append(Date())
            return .text(status, answer, contentType: "application/json")
        }
        defer { afterTest { await outbox.stop() } }
        #expect(await outbox.delivery.enqueue(["text": "never"], to: .chat, channel: "#nowhere", key: "k"))
        for _ in 0..<3 {
            await outbox.delivery.deliverDue()
            outbox.clock.advance(by: 600)
        }
        #expect(attempts.values.count == 1)
        let audit = try await outbox.store.auditEntries(AuditQuery(since: nil, until: nil, actor: nil, cluster: nil, limit: 10))
        let refused = try #require(audit.first { $0.result == "refused" })
        #expect(refused.target == "#nowhere")
        #expect(refused.detail == error)
        #expect(try await outbox.store.dueMessages(at: .distantFuture).isEmpty)
    }

    /// A response URL that expired (404 `expired_url`) is not posted to again; a server error is.
    @Test func anExpiredResponseURLIsGivenUpAtOnceAndAServerErrorIsRetried() async throws {
        let attempts = Recorder<String>()
        let outbox = try await Outbox { request in
            attempts.append(request.path)
            return request.path.hasSuffix("/expired") ? .text(404, "expired_url") : .text(500, "down")
        }
        defer { afterTest { await outbox.stop() } }
        let base = outbox.slack.baseURL
        #expect(await outbox.delivery.enqueue(["text": "a"], to: .responseURL(base + "/hooks/expired"), channel: nil, key: "a"))
        #expect(await outbox.delivery.enqueue(["text": "b"], to: .responseURL(base + "/hooks/down"), channel: nil, key: "b"))
        for _ in 0..<3 {
            await outbox.delivery.deliverDue()
            outbox.clock.advance(by: 600)
        }
        #expect(attempts.values.filter { $0.hasSuffix("/expired") }.count == 1)
        #expect(attempts.values.filter { $0.hasSuffix("/down") }.count == 3)
    }

    /// A 429's Retry-After holds back every message to that channel, not only the one refused;
    /// other channels go on.
    @Test func retryAfterHoldsBackTheChannelAndOnlyIt() async throws {
        let received = Recorder<String>()
        let refusedOnce = Mutex(false)
        let outbox = try await Outbox { request in
            let body = try? JSONValue(parsing: Data(request.body))
            let channel = body?["channel"]?.string ?? ""
            let first = channel == "#web" && refusedOnce.withLock { refused in
                defer { refused = true }
                return !refused
            }
            if first {
                return .full(status: 429, headers: [("Retry-After", "120")])
            }
            received.append("\(channel) \(body?["text"]?.string ?? "")")
            return .text(200, #"{"ok":true}"#, contentType: "application/json")
        }
        defer { afterTest { await outbox.stop() } }
        for index in 0..<3 {
            #expect(await outbox.delivery.enqueue(["text": .string("w\(index)")], to: .chat, channel: "#web", key: "w\(index)"))
        }
        #expect(await outbox.delivery.enqueue(["text": "o"], to: .chat, channel: "#ops", key: "o"))
        await outbox.delivery.deliverDue()
        #expect(received.values == ["#ops o"])
        outbox.clock.advance(by: 119)
        await outbox.delivery.deliverDue()
        #expect(received.values == ["#ops o"])
        outbox.clock.advance(by: 2)
        await outbox.delivery.deliverDue()
        #expect(received.values.sorted() == ["#ops o", "#web w0", "#web w1", "#web w2"])
    }

    /// Sends slow enough to use up most of the claim: the pass stops and gives the rest back
    /// before another replica could take them, and the next pass sends each once.
    @Test func aPassStopsTryingBeforeItsClaimLapses() async throws {
        let received = Recorder<String>()
        let clock = Mutex<ManualClock?>(nil)
        let outbox = try await Outbox { request in
            received.append((try? JSONValue(parsing: Data(request.body)))?["text"]?.string ?? "")
            clock.withLock { $0 }?.advance(by: 20)  // each send takes 20 s
            return .text(200, #"{"ok":true}"#, contentType: "application/json")
        }
        defer { afterTest { await outbox.stop() } }
        clock.withLock { $0 = outbox.clock }
        for index in 0..<6 {
            #expect(await outbox.delivery.enqueue(["text": .string("m\(index)")], to: .chat, channel: "#web", key: "m\(index)"))
        }
        await outbox.delivery.deliverDue()
        #expect(received.values == ["m0", "m1", "m2"], "40 s into the 60 s claim, the fourth is not tried")
        await outbox.delivery.deliverDue()
        #expect(received.values == ["m0", "m1", "m2", "m3", "m4", "m5"])
    }

    /// Which HTTP refusals end a message at once: a response URL's 4xx (expired, used up) and a
    /// webhook's 400 or 413 (the message itself); a webhook's 403 or 404 may be mended, and the
    /// Web API answers 200 with its own errors.
    @Test(arguments: [
        (SlackDelivery.Destination.responseURL("https://hooks.slack.com/x"), 404, true),
        (.responseURL("https://hooks.slack.com/x"), 410, true),
        (.responseURL("https://hooks.slack.com/x"), 408, false),
        (.responseURL("https://hooks.slack.com/x"), 500, false),
        (.webhook, 400, true),
        (.webhook, 413, true),
        (.webhook, 403, false),
        (.webhook, 404, false),
        (.webhook, 502, false),
        (.chat, 400, false),
        (.ephemeral, 404, false),
    ])
    func finalRefusals(destination: SlackDelivery.Destination, status: Int, final: Bool) {
        #expect(SlackDelivery.isFinal(status, for: destination) == final)
    }
}
