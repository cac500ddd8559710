import Foundation
@testable import Hub
import JSON
import TestSupport
import Testing

/// Issue 16, items 9 to 13: the API and docs/openapi.yaml say the same thing. Every documented
/// route is walked with a good request (its answer checked against the document), no token,
/// every other method, unknown names, bad and unknown body fields and query parameters; every
/// error has the documented shape; the router has no route the document does not list.
@Suite("API contract", .serialized, .awaitingCleanup)
struct APIContractTests {
    static let document = try! JSONValue(yaml: String(contentsOfFile: repositoryFile("docs/openapi.yaml"), encoding: .utf8))
    static let schemas = SchemaCheck(document: document)
    static let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    /// A documented operation: its path template, method, and its entry in the document.
    struct Operation {
        var template: String
        var method: String
        var spec: JSONValue
        var secured: Bool { spec["security"]?.array?.isEmpty != true }
        var errorCodes: [JSONValue] { APIContractTests.document[path: ["components", "responses", "Error", "content", "application/json", "schema", "properties", "error", "properties", "code", "enum"]]?.array ?? [] }
    }

    static var operations: [Operation] {
        (document["paths"]?.object ?? [:]).sorted { $0.key < $1.key }.flatMap { template, item in
            methods.compactMap { method in item[method.lowercased()].map { Operation(template: template, method: method, spec: $0) } }
        }
    }

    static func start() async throws -> HubFixture {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", "schedules:\n  - {name: office-hours, namespaces: [shop], weekdays: \"1-5\", sleepAt: \"20:00\", wakeUpAt: \"08:00\"}\n")], start: instant("2027-01-04T10:00:00Z"))
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 1))
        try fixture.directory.write("sandman.yaml", "listen: 127.0.0.1:0\ndatabase: hub.sqlite\nplugins: {directory: plugins}\nslack: {signingSecrets: [s]}\nlimits: {maxDuration: 12h, maxReasonLength: 40}\n")
        try await fixture.startHub()
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count == 1 })
        return fixture
    }

    func errorProblems(_ answer: (status: Int, body: JSONValue), _ operation: Operation, _ what: String) -> [String] {
        let schema = Self.document[path: ["components", "responses", "Error", "content", "application/json", "schema"]] ?? .null
        var found = Self.schemas.problems(answer.body, schema).map { "\(what): \($0)" }
        if answer.body[path: ["error", "message"]]?.string?.isEmpty != false { found.append("\(what): no error message in \(answer.body)") }
        if let code = answer.body[path: ["error", "code"]], !operation.errorCodes.contains(code) { found.append("\(what): code \(code) not documented") }
        return found
    }

    @Test func everyDocumentedRouteAnswersAsDocumented() async throws {
        let fixture = try await Self.start()
        defer { afterTest { [fixture] in await fixture.stop() } }
        // Names the samples use: a real operation and a real override.
        let wake = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["shop"],"duration":"1h"}"#)
        let operationID = try #require(wake.body[path: ["operation", "id"]]?.string, "\(wake.body)")
        let created = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"shop","kind":"skip"}"#)
        let overrideID = try #require(created.body[path: ["override", "id"]]?.string, "\(created.body)")
        let names = ["cluster": "staging", "id": operationID]

        // One good request per documented operation: (status, body).
        let samples: [String: (Int, String?)] = [
            "GET /healthz": (200, nil), "GET /readyz": (200, nil), "GET /metrics": (200, nil), "GET /api/v1/openapi.yaml": (200, nil),
            "GET /api/v1/clusters": (200, nil), "GET /api/v1/clusters/{cluster}": (200, nil), "GET /api/v1/clusters/{cluster}/namespaces": (200, nil),
            "POST /api/v1/clusters/{cluster}/sleep": (202, #"{"namespaces":["shop"],"duration":"2h","reason":"contract"}"#),
            "POST /api/v1/clusters/{cluster}/wake": (202, #"{"all":true,"reason":"contract"}"#),
            "GET /api/v1/operations": (200, nil), "GET /api/v1/operations/{id}": (200, nil),
            "GET /api/v1/overrides": (200, nil), "POST /api/v1/overrides": (201, #"{"cluster":"staging","namespaces":["shop"],"kind":"wake","duration":"1h"}"#),
            "DELETE /api/v1/overrides/{id}": (204, nil), "GET /api/v1/audit": (200, nil),
            "GET /api/v1/plugins": (200, nil), "POST /api/v1/plugins/reload": (200, nil),
            "POST /slack/commands": (401, nil), "POST /slack/interactions": (401, nil), "POST /slack/events": (401, nil),
            // This hub has no GitOps: the webhook says so (GitOpsApprovalTests drive it for real).
            "POST /gitlab/webhook": (404, nil),
        ]
        var problems: [String] = []
        for operation in Self.operations {
            let key = "\(operation.method) \(operation.template)"
            guard let (status, body) = samples[key] else {
                problems.append("\(key): documented, but this test has no sample request for it")
                continue
            }
            var values = names
            if operation.template.hasPrefix("/api/v1/overrides/") {
                // The samples replace overrides as they go (a namespace has one): the newest open one.
                values["id"] = try await fixture.api("GET", "/api/v1/overrides").body["overrides"]?.array?.first?["id"]?.string ?? overrideID
            }
            let path = Self.fill(operation.template, values)
            let answer = try await fixture.api(operation.method, path, body: body)
            if answer.status != status { problems.append("\(key): \(answer.status), expected \(status): \(answer.body)"); continue }
            if let schema = operation.spec[path: ["responses", String(status), "content", "application/json", "schema"]] {
                problems += Self.schemas.problems(answer.body, schema).map { "\(key) answer: \($0)" }
            } else if status >= 400 {
                problems += errorProblems(answer, operation, key)
            } else if operation.spec[path: ["responses", String(status)]] == nil {
                problems.append("\(key): answered \(status), which the document does not list")
            }

            if operation.secured {
                let anonymous = try await fixture.api(operation.method, path, body: body, as: nil)
                if anonymous.status != 401 { problems.append("\(key) without a token: \(anonymous.status)") }
                problems += errorProblems(anonymous, operation, "\(key) without a token")
            }
            // Unknown names in the path are 404s with the documented shape.
            for name in values.keys where operation.template.contains("{\(name)}") {
                var unknown = values
                unknown[name] = "nosuch"
                let answer = try await fixture.api(operation.method, Self.fill(operation.template, unknown), body: body)
                if answer.status != 404 { problems.append("\(key) with \(name) nosuch: \(answer.status)") }
                problems += errorProblems(answer, operation, "\(key) with \(name) nosuch")
            }
            // An undocumented query parameter is refused, documented ones are not.
            if operation.secured {
                let documented = (operation.spec["parameters"]?.array ?? []).filter { $0["in"] == "query" }.compactMap { $0["name"]?.string }
                for name in documented + ["bogus"] {
                    let value = name == "limit" ? "5" : (name == "since" || name == "until" ? "24h" : (name == "cluster" ? "staging" : "x"))
                    let answer = try await fixture.api(operation.method, path + "?\(name)=\(value)", body: body)
                    let unknown = answer.body[path: ["error", "message"]]?.string?.contains("unknown query parameter") == true
                    if unknown != (name == "bogus") { problems.append("\(key)?\(name)=: \(answer.status) \(answer.body)") }
                }
            }
            // Bodies: an unknown field and a wrong type are named; every documented field is known.
            if operation.secured, let schema = operation.spec[path: ["requestBody", "content", "application/json", "schema"]].map(Self.schemas.resolve) {
                for (bad, field) in [(#"{"bogus":1}"#, "bogus"), (#"{"reason":5}"#, "reason"), ("{", nil)] {
                    let answer = try await fixture.api(operation.method, path, body: bad)
                    if answer.status != 400 || answer.body[path: ["error", "field"]]?.string != field {
                        problems.append("\(key) with \(bad): \(answer.status) \(answer.body)")
                    }
                    problems += errorProblems(answer, operation, "\(key) with \(bad)")
                }
                for (property, propertySchema) in schema["properties"]?.object ?? [:] {
                    let value = Self.sample(Self.schemas.resolve(propertySchema))
                    let answer = try await fixture.api(operation.method, path, body: JSONValue.object([property: value]).serialized())
                    if answer.body[path: ["error", "message"]]?.string?.contains("unknown field") == true {
                        problems.append("\(key): documented field \(property) refused: \(answer.body)")
                    }
                }
            }
            // Every other method: 405 naming the allowed ones.
            let allowed = Self.operations.filter { $0.template == operation.template }.map(\.method).sorted()
            for method in Self.methods where !allowed.contains(method) {
                let answer = try await fixture.api(method, path)
                if answer.status != 405 { problems.append("\(method) \(operation.template): \(answer.status), expected 405") }
                if !operation.template.hasPrefix("/slack") { problems += errorProblems(answer, operation, "\(method) \(operation.template)") }
            }
        }
        // Allow is a header: checked once on a raw request.
        var request = URLRequestLike(method: "DELETE", url: fixture.url + "/api/v1/clusters")
        request.headers["Authorization"] = "Bearer \(fixture.tokens["admin"]!)"
        #expect(try await request.send().status == 405)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

        // The router has nothing the document does not describe.
        let server = try #require(fixture.server)
        let router = HubAPI.router(hub: server.hub, slack: server.slack)
        let documented = Set(Self.operations.map { "\($0.method) \($0.template)" })
        for route in router.routes {
            let template = "/" + route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            #expect(documented.contains("\(route.method.rawValue) \(template)"), "\(route.method) \(template) is served but not documented")
        }
    }

    static func fill(_ template: String, _ values: [String: String]) -> String {
        values.reduce(template) { $0.replacingOccurrences(of: "{\($1.key)}", with: $1.value) }
    }

    /// A value of the schema's type, for "is this field known" probes.
    static func sample(_ schema: JSONValue) -> JSONValue {
        switch schema["type"]?.string {
        case "array": return .array([sample(schema["items"].map(schemas.resolve) ?? .emptyObject)])
        case "boolean": return true
        case "integer", "number": return 1
        case "object": return .emptyObject
        default:
            if let first = schema["enum"]?.array?.first { return first }
            return schema["format"] == "date-time" ? "2027-01-04T12:00:00Z" : "x"
        }
    }

    /// Items 9 to 13 one by one, as the issue found them.
    @Test func theIssuesFindingsAreFixed() async throws {
        let fixture = try await Self.start()
        defer { afterTest { [fixture] in await fixture.stop() } }
        func operations() async throws -> Int { try await fixture.api("GET", "/api/v1/operations").body["operations"]?.array?.count ?? -1 }

        // 9: a typo is refused, with the field it meant.
        let typo = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["shop"],"durtion":"2h"}"#)
        #expect(typo.status == 400)
        #expect(typo.body[path: ["error", "field"]] == "durtion")
        #expect(typo.body[path: ["error", "message"]] == "unknown field \"durtion\"; did you mean \"duration\"?")
        // 10: nothing acts on a whole cluster by omission.
        for body in [nil, "{}", #"{"namespaces":[]}"#] {
            let sleep = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: body)
            #expect(sleep.status == 400, "\(String(describing: body))")
            #expect(sleep.body[path: ["error", "field"]] == "namespaces")
        }
        #expect(try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"all":true,"namespaces":["shop"]}"#).status == 400)
        #expect(try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","kind":"skip"}"#).status == 400)
        #expect(try await operations() == 0)
        // 11: one maximum for every source (limits.maxDuration 12h here), and a bounded reason.
        for (body, field) in [(#"{"namespaces":["shop"],"duration":"9999d"}"#, "duration"), (#"{"namespaces":["shop"],"duration":"13h"}"#, "duration")] {
            let long = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: body)
            #expect(long.status == 400 && long.body[path: ["error", "field"]]?.string == field, "\(long.body)")
        }
        let farUntil = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"shop","kind":"wake","until":"2027-01-06T00:00:00Z"}"#)
        #expect(farUntil.status == 400 && farUntil.body[path: ["error", "field"]] == "until", "\(farUntil.body)")
        let reason = String(repeating: "x", count: 500_000)
        let verbose = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["shop"],"reason":"\#(reason)"}"#)
        #expect(verbose.status == 400 && verbose.body[path: ["error", "field"]] == "reason")
        #expect(try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["shop"],"reason":"a\nb"}"#).status == 400)
        #expect(try await operations() == 0)
        // 12 and 13: an oversized body is a 413 with the documented shape, and counted as a 413.
        let huge = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"reason":""# + String(repeating: "x", count: 2 << 20) + #""}"#)
        #expect(huge.status == 413)
        #expect(huge.body[path: ["error", "code"]] == "payload_too_large", "\(huge.body)")
        let metrics = try await URLRequestLike(method: "GET", url: fixture.url + "/metrics").send().body.string ?? ""
        #expect(metrics.contains(#"sandman_http_requests_total{method="POST",route="/api/v1/clusters/{cluster}/wake",status="413"}"#), "\(metrics)")
        #expect(!metrics.contains(#"status="500""#), "\(metrics)")
        let unknownCluster = try await fixture.api("GET", "/api/v1/operations?cluster=nosuch")
        #expect(unknownCluster.status == 404 && unknownCluster.body[path: ["error", "field"]] == "cluster")
        let noToken = try await fixture.api("GET", "/api/v1/clusters", as: nil)
        #expect(noToken.body[path: ["error", "message"]]?.string?.contains("SANDMAN_TOKEN") == true)
    }
}
