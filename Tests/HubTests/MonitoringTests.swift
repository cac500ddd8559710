import Demo
import Foundation
import Glibc
import Hub
import JSON
import Kube
import Logging
import TestSupport
import Testing

/// The metrics, the alert rules and the Grafana dashboard, checked by Prometheus' own tools:
/// `promtool check metrics`, `promtool check rules`, `promtool test rules` (a case per alert),
/// and a real Prometheus server scraping a running `sandman demo` that evaluates every rule and
/// every dashboard query; each metric selector they use must find series with the labels it
/// names (catching wrong metric or label names, which PromQL would silently answer with nothing).
@Suite("Monitoring", .serialized, .awaitingCleanup)
struct MonitoringTests {
    static let rules = repositoryFile("deploy/monitoring/alerts.rules.yml")

    struct MissingTool: Error, CustomStringConvertible {
        var tool: String
        var description: String { "\(tool) is not installed: the monitoring tests need Debian's prometheus package (make deps)" }
    }

    static func tool(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard let found = path.split(separator: ":").map({ "\($0)/\(name)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw MissingTool(tool: name)
        }
        return found
    }

    @Test func promtoolChecksTheRulesAndTheirUnitTests() async throws {
        let promtool = try Self.tool("promtool")
        let checked = try await ProcessOutput.run(promtool, arguments: ["check", "rules", Self.rules], timeout: .seconds(120))
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
        let tested = try await ProcessOutput.run(promtool, arguments: ["test", "rules", repositoryFile("deploy/monitoring/alerts.test.yml")], timeout: .seconds(120))
        #expect(tested.status == 0, "\(tested.stdout)\(tested.stderr)")
        // A unit test for every alert.
        let alerts = try Self.alertNames()
        let tests = try String(contentsOfFile: repositoryFile("deploy/monitoring/alerts.test.yml"), encoding: .utf8)
        for alert in alerts { #expect(tests.contains("alertname: \(alert)"), "no promtool test for \(alert)") }
        #expect(alerts.count >= 7)
    }

    static func alertNames() throws -> [String] {
        let rules = try JSONValue(yaml: String(contentsOfFile: Self.rules, encoding: .utf8))
        return (rules["groups"]?.array ?? []).flatMap { $0["rules"]?.array ?? [] }.compactMap { $0["alert"]?.string }
    }

    static func ruleExpressions() throws -> [String] {
        let rules = try JSONValue(yaml: String(contentsOfFile: Self.rules, encoding: .utf8))
        return (rules["groups"]?.array ?? []).flatMap { $0["rules"]?.array ?? [] }.compactMap { $0["expr"]?.string }
    }

    static func dashboardExpressions() throws -> [String] {
        let dashboard = try JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: repositoryFile("deploy/monitoring/grafana-dashboard.json"))))
        return (dashboard["panels"]?.array ?? []).flatMap { $0["targets"]?.array ?? [] }.compactMap { $0["expr"]?.string }
    }

    /// The metric selectors of a PromQL expression: metric name and the label names matched.
    static func selectors(in expression: String) -> [(metric: String, labels: [String])] {
        let pattern = try! NSRegularExpression(pattern: #"\b((?:kube_green|sandman)_[a-zA-Z0-9_]+|up)\b(\{[^}]*\})?"#)
        let labelPattern = try! NSRegularExpression(pattern: #"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)"#)
        let text = expression as NSString
        return pattern.matches(in: expression, range: NSRange(location: 0, length: text.length)).map { match in
            let metric = text.substring(with: match.range(at: 1))
            guard match.range(at: 2).location != NSNotFound else { return (metric, []) }
            let braces = text.substring(with: match.range(at: 2)) as NSString
            let labels = labelPattern.matches(in: braces as String, range: NSRange(location: 0, length: braces.length)).map { braces.substring(with: $0.range(at: 1)) }
            return (metric, labels)
        }
    }

    @Test func prometheusScrapesTheDemoAndEveryRuleAndDashboardQueryFindsItsSeries() async throws {
        let prometheusBinary = try Self.tool("prometheus")
        let state = try TemporaryDirectory("monitoring")
        defer { state.remove() }
        var logger = Logger(label: "monitoring-test")
        logger.logLevel = .warning
        let demo = try await DemoEnvironment.start(configPath: repositoryFile("sandman.yaml"), port: 0, speed: 1, stateDirectory: state.path + "/demo", handleSignals: false, logger: logger)
        defer { afterTest { await demo.server.stop(); for sim in demo.simulators.values { await sim.shutdown() } } }
        func api(_ method: String, _ path: String, body: String? = nil) async throws -> (status: Int, body: JSONValue) {
            var request = URLRequestLike(method: method, url: demo.server.url + path, body: body)
            request.headers["Authorization"] = "Bearer \(demo.adminToken)"
            return try await request.send()
        }
        // Something to count: an operation, and a Slack command.
        // payments-dev (clusters/demo/dev) has Deployments and a StatefulSet.
        let namespace = "payments-dev"
        #expect(await eventually {
            ((try? await api("GET", "/api/v1/clusters/dev/namespaces"))?.body["namespaces"]?.array ?? []).contains { $0["namespace"] == .string(namespace) }
        })
        // A wake, finished before the sleep (which would otherwise supersede it), so that the sleep scales something.
        for action in ["wake", "sleep"] {
            let answer = try await api("POST", "/api/v1/clusters/dev/\(action)", body: #"{"namespaces":["\#(namespace)"]}"#)
            #expect(answer.status == 202, "\(answer.body)")
            let id = answer.body[path: ["operation", "id"]]?.string ?? ""
            #expect(await eventually {
                (try? await api("GET", "/api/v1/operations/\(id)"))?.body[path: ["operation", "finishedAt"]]?.string != nil
            }, "\(action) did not finish")
        }
        let slack = SlackCommandSimulator(hub: demo.server.url, secret: demo.slackSecret, user: "U0DEMO", userName: "monitor", channel: "C0PLATFORM", channelName: "platform")
        _ = try await slack.send("/k8s-status", wait: .zero)
        #expect(await eventually {
            let text = (try? await URLRequestLike(method: "GET", url: demo.server.url + "/metrics").send())?.body.string ?? ""
            return text.contains("kube_green_sleep_operations_total{") && text.contains("kube_green_resources_scaled_total{")
        })

        // What the hub exposes follows Prometheus' naming and format rules.
        let exposed = try await URLRequestLike(method: "GET", url: demo.server.url + "/metrics").send().body.string ?? ""
        let lint = try await ProcessOutput.run(try Self.tool("promtool"), arguments: ["check", "metrics"], input: exposed, timeout: .seconds(60))
        #expect(lint.status == 0, "promtool check metrics: \(lint.stdout)\(lint.stderr)")

        let prometheus = try await PrometheusServer.start(binary: prometheusBinary, directory: state.path + "/prometheus", target: demo.server.url, rules: Self.rules)
        defer { prometheus.stop() }
        // Two scrapes at least, so that rate() and increase() have samples to work with.
        #expect(await eventually(timeout: .seconds(120)) {
            let answer = try? await prometheus.query(#"count_over_time(up{job="sandman"}[1m])"#)
            return (answer?.first?["value"]?.array?.last?.string).flatMap(Double.init) ?? 0 >= 3
        }, "Prometheus did not scrape the demo: \(prometheus.log)")

        let expressions = try Self.ruleExpressions() + Self.dashboardExpressions()
        var checked = Set<String>()
        for expression in expressions {
            let answer = try await prometheus.request("/api/v1/query", ["query": expression])
            #expect(answer["status"] == "success", "\(expression): \(answer)")
            for selector in Self.selectors(in: expression) where checked.insert("\(selector.metric)\(selector.labels)").inserted {
                let series = try await prometheus.query(selector.metric)
                #expect(!series.isEmpty, "\(expression): no series of \(selector.metric)")
                let withLabels = series.filter { one in selector.labels.allSatisfy { one[path: ["metric", $0]] != nil } }
                #expect(!withLabels.isEmpty, "\(expression): no series of \(selector.metric) has labels \(selector.labels)")
            }
        }
        #expect(checked.count >= 12)
        // Prometheus evaluated every rule without error.
        var rules: [JSONValue] = []
        let evaluated = await eventually(timeout: .seconds(60)) {
            rules = (try? await prometheus.request("/api/v1/rules", [:]))?[path: ["data", "groups"]]?.array?.flatMap { $0["rules"]?.array ?? [] } ?? []
            return rules.count == (try? Self.alertNames().count) && rules.allSatisfy { $0["health"] == "ok" }
        }
        #expect(evaluated, "rules not all evaluated: \(rules)")
    }
}

/// A real Prometheus server scraping one target every second and loading the rules file.
final class PrometheusServer: @unchecked Sendable {
    let process = Process()
    let url: String
    let logPath: String

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    private init(binary: String, directory: String, port: Int, target: String, rules: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let host = URL(string: target)!
        let config = directory + "/prometheus.yml"
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            rule_files: ["\(rules)"]
            scrape_configs:
              - job_name: sandman
                metrics_path: /metrics
                static_configs: [{targets: ["\(host.host!):\(host.port!)"]}]
            """.write(toFile: config, atomically: true, encoding: .utf8)
        url = "http://127.0.0.1:\(port)"
        logPath = directory + "/prometheus-\(port).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(config)", "--storage.tsdb.path=\(directory)/data-\(port)", "--web.listen-address=127.0.0.1:\(port)",
        ]
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    /// Starts Prometheus on a free port (another one if that port is taken meanwhile) and waits until it is ready.
    static func start(binary: String, directory: String, target: String, rules: String) async throws -> PrometheusServer {
        for _ in 0..<5 {
            let server = try PrometheusServer(binary: binary, directory: directory, port: try LoopbackPort.free(), target: target, rules: rules)
            let ready = await eventually(timeout: .seconds(120)) {
                guard server.process.isRunning else { return true }
                return (try? await URLRequestLike(method: "GET", url: server.url + "/-/ready").send().status) == 200
            }
            if ready, server.process.isRunning { return server }
            server.stop()
            if !server.log.contains("address already in use") {
                Issue.record("Prometheus did not start: \(server.log)")
                throw CancellationError()
            }
        }
        throw CancellationError()
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    func request(_ path: String, _ parameters: [String: String]) async throws -> JSONValue {
        var components = URLComponents(string: url + path)!
        components.queryItems = parameters.map { URLQueryItem(name: $0.key, value: $0.value) }
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return try await URLRequestLike(method: "GET", url: components.url!.absoluteString).send().body
    }

    /// The series of an instant query's vector result.
    func query(_ expression: String) async throws -> [JSONValue] {
        try await request("/api/v1/query", ["query": expression])[path: ["data", "result"]]?.array ?? []
    }
}
