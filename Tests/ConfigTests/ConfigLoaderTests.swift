import Foundation
import Sleep
import TestSupport
import Testing
@testable import Config

@Suite("Configuration loading")
struct ConfigLoaderTests {
    static let validHub = """
        listen: 127.0.0.1:9090
        database: data/hub.sqlite
        slack:
          principals:
            - users: [U1]
              role: operator
              teams: [web]
        """

    static let validCluster = """
        tier: staging
        context: staging
        schedules:
          - name: nights
            namespaces: ["*"]
            weekdays: "1-5"
            sleepAt: "20:00"
            wakeUpAt: "08:00"
            timeZone: Europe/Rome
        teams:
          - name: web
            namespaces: ["web-*"]
            slackChannel: "#web"
        """

    /// Writes a configuration directory and loads it.
    private func load(hub: String = validHub, clusters: [String: String] = ["staging.yaml": validCluster], environment: [String: String] = [:]) throws -> HubConfiguration {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("sandman.yaml", hub)
        try FileManager.default.createDirectory(atPath: directory.path + "/clusters", withIntermediateDirectories: true)
        for (name, text) in clusters { try directory.write("clusters/\(name)", text) }
        return try ConfigLoader.load(path: path, environment: environment)
    }

    @Test func validConfigurationLoadsWithDefaultsAndResolvedPaths() throws {
        let configuration = try load()
        #expect(configuration.listen == .init(host: "127.0.0.1", port: 9090))
        #expect(configuration.database.description.hasSuffix("/data/hub.sqlite"))
        #expect(configuration.database.description.hasPrefix("/"))
        #expect(configuration.plugins.directory.hasSuffix("/plugins"))
        #expect(configuration.plugins.callTimeout == .milliseconds(50))
        #expect(configuration.prices == .init())
        let staging = try #require(configuration.cluster(named: "staging"))
        #expect(staging.tier == .staging)
        // No fixed rate unless the file sets one: the client paces itself by the server.
        #expect(staging.client.qps == nil)
        let capped = try load(clusters: ["staging.yaml": Self.validCluster + "\nclient: {qps: 50, burst: 20}\n"])
        #expect(try #require(capped.cluster(named: "staging")).client.qps == 50)
        #expect(staging.schedules.first?.timeZone == "Europe/Rome")
        #expect(staging.team(owning: "web-frontend")?.slackChannel == "#web")
        #expect(staging.team(owning: "api") == nil)
        #expect(staging.namespaces.selects("web-frontend"))
        #expect(!staging.namespaces.selects("kube-system"))
    }

    @Test func inClusterMeansTheHubsOwnServiceAccount() throws {
        let configuration = try load(hub: "listen: 127.0.0.1:9090\n", clusters: ["home.yaml": "tier: production\nkubeconfig: in-cluster\n"])
        let home = try #require(configuration.cluster(named: "home"))
        #expect(home.inCluster)
        #expect(home.kubeconfig == nil)
        #expect(try load().cluster(named: "staging")?.inCluster == false)
    }

    @Test func environmentOverridesSecretsAndAddresses() throws {
        let configuration = try load(environment: [
            "SANDMAN_LISTEN": "0.0.0.0:7000",
            "SANDMAN_SLACK_SIGNING_SECRETS": "new-secret, old-secret",
            "SANDMAN_SLACK_BOT_TOKEN": "xoxb-123",
            "SANDMAN_GITLAB_TOKEN": "glpat-1",
        ])
        #expect(configuration.listen == .init(host: "0.0.0.0", port: 7000))
        #expect(configuration.slack.signingSecrets == ["new-secret", "old-secret"])
        #expect(configuration.slack.botToken == "xoxb-123")
        #expect(configuration.gitops.gitlab.token == "glpat-1")
    }

    @Test func shippedExamplesAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let configuration = try ConfigLoader.load(path: root.appendingPathComponent("sandman.yaml").path, environment: [:])
        #expect(configuration.clusters.map(\.name).sorted() == ["dev", "production", "staging"])
        #expect(configuration.cluster(named: "production")?.tier == .production)
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
    }

    /// The team `validHub`'s Slack principal names.
    static let webTeam = "teams: [{name: web, namespaces: [\"web-*\"]}]\n"

    @Test func aBotTokenWithoutADefaultChannelIsWarnedAbout() throws {
        let clusters = ["staging.yaml": Self.validCluster, "dev.yaml": "tier: development\nslackChannel: \"#dev\"\n"]
        let token = ["SANDMAN_SLACK_BOT_TOKEN": "xoxb-1"]
        let warnings = try load(clusters: clusters, environment: token).warnings
        #expect(warnings.map(\.field) == ["slack"])
        #expect(warnings.first?.message == """
            no defaultChannel: notifications about plugins and of clusters staging outside a team with a channel are not sent \
            (chat.postMessage needs a channel)
            """)
        #expect(try load(hub: Self.validHub + "\n  defaultChannel: \"#sandman\"", clusters: clusters, environment: token).warnings.isEmpty)
        #expect(try load(clusters: clusters).warnings.isEmpty, "no bot token: nothing goes to chat.postMessage")
    }

    @Test func aScheduleAnEarlierOneCoversIsReportedAsNeverApplying() throws {
        let schedule = { (name: String, namespaces: String) in
            "  - {name: \(name), namespaces: \(namespaces), weekdays: \"1-5\", sleepAt: \"20:00\", wakeUpAt: \"08:00\"}\n"
        }
        let cluster = "tier: staging\nschedules:\n" + schedule("office-hours", "[\"web-*\", \"batch-*\"]")
            + schedule("weekend", "[\"batch-night-*\", \"web-?\"]") + schedule("late", "[\"batch-*\", \"api\"]")
            + Self.webTeam
        let configuration = try load(clusters: ["staging.yaml": cluster])
        let warning = try #require(configuration.warnings.first)
        #expect(configuration.warnings.count == 1, "\(configuration.warnings)")
        #expect(warning.file.hasSuffix("clusters/staging.yaml"))
        #expect(warning.line == 4)
        #expect(warning.field == "schedules[1].namespaces")
        #expect(warning.message.hasPrefix("schedule \"weekend\" never applies: every namespace it names is taken first by \"office-hours\""))
        // In the other order both apply (to some namespaces at least).
        let reordered = "tier: staging\nschedules:\n" + schedule("weekend", "[\"batch-night-*\"]") + schedule("office-hours", "[\"*\"]") + Self.webTeam
        #expect(try load(clusters: ["staging.yaml": reordered]).warnings.isEmpty)
    }

    struct BrokenCase: Sendable, CustomTestStringConvertible {
        var name: String
        var hub: String = ConfigLoaderTests.validHub
        var cluster: String = ConfigLoaderTests.validCluster
        /// File name ending, line (when checked), field and message fragment of the expected issue.
        var file: String
        var line: Int?
        var field: String
        var message: String
        var testDescription: String { name }
    }

    static let brokenCases: [BrokenCase] = [
        BrokenCase(name: "YAML syntax error", hub: "listen: [1, 2\n", file: "sandman.yaml", field: "", message: "invalid YAML"),
        BrokenCase(name: "root is a list", hub: "- a\n- b\n", file: "sandman.yaml", field: "", message: "expected a mapping"),
        BrokenCase(name: "empty file", hub: "", file: "sandman.yaml", field: "", message: "file is empty"),
        BrokenCase(name: "misspelt field", hub: "listn: 127.0.0.1:8080\n", file: "sandman.yaml", line: 1, field: "listn", message: "did you mean \"listen\"?"),
        BrokenCase(name: "listen without port", hub: "listen: localhost\n", file: "sandman.yaml", line: 1, field: "listen", message: "expected host:port"),
        BrokenCase(name: "port out of range", hub: "listen: 127.0.0.1:70000\n", file: "sandman.yaml", field: "listen", message: "expected host:port"),
        BrokenCase(name: "bad log level", hub: "logLevel: verbose\n", file: "sandman.yaml", field: "logLevel", message: "expected one of trace, debug, info"),
        BrokenCase(name: "bad duration", hub: "slack:\n  preSleepWarning: 10 minutes\n", file: "sandman.yaml", line: 2, field: "slack.preSleepWarning", message: "invalid duration"),
        BrokenCase(name: "negative price", hub: "prices:\n  cpuHour: -1\n", file: "sandman.yaml", field: "prices.cpuHour", message: "must be at least 0"),
        BrokenCase(name: "price not a number", hub: "prices:\n  memoryGiBHour: cheap\n", file: "sandman.yaml", field: "prices.memoryGiBHour", message: "expected a number"),
        BrokenCase(name: "gitops without project", hub: "gitops:\n  enabled: true\n  argocd:\n    url: https://argo.example\n", file: "sandman.yaml", field: "gitops.gitlab.project", message: "required when gitops.enabled"),
        BrokenCase(name: "gitops without Argo CD", hub: "gitops:\n  enabled: true\n  gitlab:\n    project: a/b\n", file: "sandman.yaml", field: "gitops.argocd.url", message: "required when gitops.enabled"),
        BrokenCase(name: "enabled not a bool", hub: "gitops:\n  enabled: maybe\n", file: "sandman.yaml", field: "gitops.enabled", message: "expected true or false"),
        BrokenCase(name: "principal with bad role", hub: "slack:\n  principals:\n    - users: [U1]\n      role: root\n", file: "sandman.yaml", line: 4, field: "slack.principals[0].role", message: "expected one of viewer, operator, admin"),
        BrokenCase(name: "slack time zone unknown", hub: "slack:\n  timeZone: Mars/Olympus\n", file: "sandman.yaml", line: 2, field: "slack.timeZone", message: "unknown time zone \"Mars/Olympus\""),
        BrokenCase(name: "context with in-cluster", cluster: "tier: staging\nkubeconfig: in-cluster\ncontext: other\n", file: "staging.yaml", line: 3, field: "context", message: "has no meaning with kubeconfig: in-cluster"),
        BrokenCase(name: "principal naming nobody", hub: "slack:\n  principals:\n    - role: admin\n", file: "sandman.yaml", field: "slack.principals[0]", message: "names nobody"),
        BrokenCase(name: "principal with unknown team", hub: "slack:\n  principals:\n    - users: [U1]\n      role: operator\n      teams: [mobile]\n", file: "sandman.yaml", field: "slack.principals[0].teams", message: "unknown team \"mobile\"; teams: web"),
        BrokenCase(name: "leader election without home", hub: "leaderElection:\n  enabled: true\n", file: "sandman.yaml", field: "leaderElection.homeCluster", message: "required when leaderElection.enabled"),
        BrokenCase(name: "leader election unknown home", hub: "leaderElection:\n  enabled: true\n  homeCluster: prod\n", file: "sandman.yaml", field: "leaderElection.homeCluster", message: "unknown cluster \"prod\"; clusters: staging"),
        BrokenCase(name: "renew deadline too long", hub: "leaderElection:\n  leaseDuration: 10s\n  renewDeadline: 10s\n", file: "sandman.yaml", field: "leaderElection.renewDeadline", message: "must be shorter than leaseDuration"),
        BrokenCase(name: "webhook URL not a URL", hub: "slack:\n  webhookURL: hooks.slack.com/x\n", file: "sandman.yaml", field: "slack.webhookURL", message: "expected an http or https URL"),
        BrokenCase(name: "cluster without tier", cluster: "context: staging\n", file: "staging.yaml", field: "tier", message: "required: one of production, staging, development"),
        BrokenCase(name: "cluster with unknown tier", cluster: "tier: prod\n", file: "staging.yaml", line: 1, field: "tier", message: "expected one of production, staging, development, got \"prod\""),
        BrokenCase(name: "cluster with missing kubeconfig", cluster: "tier: staging\nkubeconfig: ./nowhere.yaml\n", file: "staging.yaml", line: 2, field: "kubeconfig", message: "file not found"),
        BrokenCase(name: "weekday 7", cluster: validCluster.replacingOccurrences(of: "\"1-5\"", with: "\"1-7\""), file: "staging.yaml", line: 6, field: "schedules[0].weekdays", message: "7 is outside 0-6"),
        BrokenCase(name: "weekday full names", cluster: validCluster.replacingOccurrences(of: "\"1-5\"", with: "monday-friday"), file: "staging.yaml", field: "schedules[0].weekdays", message: "\"monday\" is not a number or a name"),
        BrokenCase(name: "hour 25", cluster: validCluster.replacingOccurrences(of: "\"20:00\"", with: "\"25:00\""), file: "staging.yaml", line: 7, field: "schedules[0].sleepAt", message: "invalid hour \"25\": 25 is outside 0-23"),
        BrokenCase(name: "time without colon", cluster: validCluster.replacingOccurrences(of: "\"08:00\"", with: "\"0800\""), file: "staging.yaml", field: "schedules[0].wakeUpAt", message: "expected HOUR:MINUTE"),
        BrokenCase(name: "sleep equals wake", cluster: validCluster.replacingOccurrences(of: "\"08:00\"", with: "\"20:00\""), file: "staging.yaml", field: "schedules[0].wakeUpAt", message: "must differ from sleepAt"),
        BrokenCase(name: "unknown time zone", cluster: validCluster.replacingOccurrences(of: "Europe/Rome", with: "Europe/Atlantis"), file: "staging.yaml", line: 9, field: "schedules[0].timeZone", message: "\"Europe/Atlantis\": unknown time zone"),
        BrokenCase(name: "schedule without sleepAt", cluster: "tier: staging\nschedules:\n  - name: x\n    namespaces: [a]\n    weekdays: \"*\"\n", file: "staging.yaml", field: "schedules[0].sleepAt", message: "required"),
        BrokenCase(name: "downtime replicas in words", cluster: validCluster.replacingOccurrences(of: "    timeZone: Europe/Rome", with: "    timeZone: Europe/Rome\n    downtimeReplicas: half"), file: "staging.yaml", line: 10, field: "schedules[0].downtimeReplicas", message: "expected a number of replicas or a percentage of them, such as \"1\" or \"50%\", got \"half\""),
        BrokenCase(name: "downtime replicas over 100%", cluster: validCluster.replacingOccurrences(of: "    timeZone: Europe/Rome", with: "    timeZone: Europe/Rome\n    downtimeReplicas: 150%"), file: "staging.yaml", field: "schedules[0].downtimeReplicas", message: "got \"150%\""),
        BrokenCase(name: "grace period not a duration", cluster: validCluster.replacingOccurrences(of: "    timeZone: Europe/Rome", with: "    timeZone: Europe/Rome\n    gracePeriod: soon"), file: "staging.yaml", field: "schedules[0].gracePeriod", message: "soon"),
        BrokenCase(name: "suspendJobs not a boolean", cluster: validCluster.replacingOccurrences(of: "    timeZone: Europe/Rome", with: "    timeZone: Europe/Rome\n    suspendJobs: sometimes"), file: "staging.yaml", field: "schedules[0].suspendJobs", message: "sometimes"),
        BrokenCase(name: "zero QPS", cluster: "tier: staging\nclient:\n  qps: 0\n", file: "staging.yaml", field: "client.qps", message: "must be at least 0.1"),
        BrokenCase(name: "team without namespaces", cluster: "tier: staging\nteams:\n  - name: web\n", file: "staging.yaml", field: "teams[0].namespaces", message: "required: at least one namespace"),
        BrokenCase(name: "duplicate team", cluster: "tier: staging\nteams:\n  - name: web\n    namespaces: [a]\n  - name: web\n    namespaces: [b]\n", file: "staging.yaml", field: "teams", message: "team name \"web\" is used more than once"),
        BrokenCase(name: "bad cluster name", cluster: "name: Staging_EU\ntier: staging\n", file: "staging.yaml", field: "name", message: "must be a DNS label"),
        BrokenCase(name: "namespaces is a string", cluster: "tier: staging\nnamespaces: all\n", file: "staging.yaml", field: "namespaces", message: "expected a mapping of fields, got \"all\""),
    ]

    @Test(arguments: brokenCases)
    func brokenFileIsReportedPrecisely(_ broken: BrokenCase) throws {
        var hub = broken.hub
        // Cases about teams and leader election need the cluster's teams; others should not trip on them.
        if broken.file == "staging.yaml" { hub = "listen: 127.0.0.1:9090\n" }
        let error = #expect(throws: ConfigError.self) {
            try load(hub: hub, clusters: ["staging.yaml": broken.cluster])
        }
        let issues = try #require(error).issues
        let match = issues.first { $0.file.hasSuffix(broken.file) && $0.field == broken.field && $0.message.contains(broken.message) }
        #expect(match != nil, "expected \(broken.file) \(broken.field): \(broken.message); got:\n\(issues.map(\.description).joined(separator: "\n"))")
        if let line = broken.line { #expect(match?.line == line, "line of \(String(describing: match))") }
    }

    /// A hub schedule's kinds and options become the spec its namespaces sleep under.
    @Test func aHubScheduleSaysWhatSleepsAndHow() throws {
        let defaults = try #require(try load().cluster(named: "staging")?.schedules.first)
        #expect(defaults.spec.targets.map(\.groupKind) == ["Deployment.apps", "StatefulSet.apps", "Rollout.argoproj.io", "ScaledObject.keda.sh"])
        #expect(defaults.spec.downtimeReplicas == nil && defaults.spec.gracePeriod == 0)
        let options = """
                downtimeReplicas: "50%"
                gracePeriod: 15m
                suspendJobs: true
                suspendDaemonSets: true
                suspendRollouts: false
                pauseScaledObjects: false
                suspendCronJobs: true
            """
        let cluster = Self.validCluster.replacingOccurrences(of: "    timeZone: Europe/Rome", with: "    timeZone: Europe/Rome\n" + options)
        let schedule = try #require(try load(clusters: ["staging.yaml": cluster]).cluster(named: "staging")?.schedules.first)
        #expect(schedule.spec.targets.map(\.groupKind) == ["Deployment.apps", "StatefulSet.apps", "CronJob.batch", "DaemonSet.apps", "Job.batch"])
        #expect(schedule.spec.downtimeReplicas == .percent(50) && schedule.spec.gracePeriod == 900)
    }

    @Test func impossibleExceptionDateIsRejected() throws {
        let cluster = Self.validCluster.replacingOccurrences(of: "    timeZone: Europe/Rome", with: "    timeZone: Europe/Rome\n    exceptions: [\"2026-02-29\", \"2028-02-29\"]")
        let error = #expect(throws: ConfigError.self) { try load(clusters: ["staging.yaml": cluster]) }
        let issues = try #require(error).issues
        #expect(issues.count == 1)
        #expect(issues.first?.field == "schedules[0].exceptions[0]")
        #expect(issues.first?.message == "expected a date YYYY-MM-DD, got \"2026-02-29\"")
    }

    @Test func everyProblemIsReportedInOneLoad() throws {
        let error = #expect(throws: ConfigError.self) {
            try load(hub: "listen: nowhere\nlogLevel: loud\nextra: 1\n", clusters: ["a.yaml": "tier: x\n", "b.yaml": "tier: staging\nclient: {qps: -5}\n"])
        }
        let issues = try #require(error).issues
        #expect(issues.count == 5, "\(issues)")
        #expect(try #require(error).description.contains("a.yaml:1: tier: expected one of"))
    }

    @Test func duplicateClusterNamesAcrossFiles() throws {
        let error = #expect(throws: ConfigError.self) {
            try load(hub: "listen: :8080\n", clusters: ["one.yaml": "name: shared\ntier: staging\n", "two.yaml": "name: shared\ntier: development\n"])
        }
        #expect(try #require(error).issues.contains { $0.file.hasSuffix("two.yaml") && $0.line == 1 && $0.message.contains("already defined in") })
    }

    /// Issue 16 item 17: one problem of a schedule hid the others, and missing fields had no line.
    @Test func everyProblemOfOneScheduleIsReportedWithItsLine() throws {
        let cluster = """
            tier: staging
            schedules:
              - name: nights
                namespaces: ["*"]
                weekdays: "Mon-Fry"
                sleepAT: "20:00"
                wakeUpAt: "25:00"
                timeZone: Europe/Atlantis
                exceptions: ["2027-13-01"]
            """
        let error = #expect(throws: ConfigError.self) { try load(hub: "listen: 127.0.0.1:9090\n", clusters: ["staging.yaml": cluster]) }
        let issues = try #require(error).issues
        let described = issues.map { "\($0.line.map(String.init) ?? "-"): \($0.field)" }
        #expect(Set(described) == [
            "3: schedules[0].sleepAt", "5: schedules[0].weekdays", "6: schedules[0].sleepAT", "7: schedules[0].wakeUpAt",
            "8: schedules[0].timeZone", "9: schedules[0].exceptions[0]",
        ], "\(issues.map(\.description).joined(separator: "\n"))")
        #expect(issues.allSatisfy { $0.line != nil })
    }

    @Test func missingFilesAreNamed() throws {
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/sandman.yaml", environment: [:]) }
        #expect(try #require(error).description == "/nonexistent/sandman.yaml: file not found")

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("sandman.yaml", "clusters: missing-dir\n")
        let noClusters = #expect(throws: ConfigError.self) { try ConfigLoader.load(path: path, environment: [:]) }
        #expect(try #require(noClusters).description.contains("missing-dir: clusters directory not found"))
    }
}

@Suite("Name patterns")
struct NamePatternTests {
    @Test(arguments: [
        ("*", "anything", true), ("*", "", true), ("web-*", "web-frontend", true), ("web-*", "web", false),
        ("kube-?", "kube-a", true), ("kube-?", "kube-ab", false), ("*-test", "payments-test", true),
        ("a*b*c", "axxbyyc", true), ("a*b*c", "axxbyy", false), ("exact", "exact", true), ("exact", "exactly", false),
    ])
    func matches(pattern: String, name: String, expected: Bool) {
        #expect(NamePattern(pattern).matches(name) == expected)
    }

    @Test(arguments: [
        ("*", "batch-*", true), ("batch-*", "batch-*", true), ("batch-*", "batch-night-*", true), ("b*", "batch-?", true),
        ("batch-?", "batch-*", false), ("batch-*", "*", false), ("payments", "payments", true), ("payments", "payments-*", false),
        ("*-test", "web-*-test", true), ("*-test", "web-*", false), ("?-*", "a-b", true), ("?", "*", false), ("??", "?x", true),
    ])
    func covers(pattern: String, other: String, expected: Bool) {
        #expect(NamePattern(pattern).covers(NamePattern(other)) == expected)
    }

    /// `covers` is never wrong when it says yes: every name the covered pattern matches, the
    /// covering one matches too (names drawn from the covered pattern's own wildcards).
    @Test func coversIsNeverTrueWrongly() {
        var random = SeededGenerator()
        let symbols: [Character] = ["a", "b", "-", "?", "*"]
        let pattern = { (length: Int) in NamePattern(String((0..<length).map { _ in symbols.randomElement(using: &random)! })) }
        var covered = 0
        for _ in 0..<20_000 {
            let wide = pattern(Int.random(in: 0...4, using: &random)), narrow = pattern(Int.random(in: 0...5, using: &random))
            guard wide.covers(narrow) else { continue }
            covered += 1
            for _ in 0..<20 {
                let name = String(narrow.text.flatMap { symbol -> [Character] in
                    switch symbol {
                    case "*": (0..<Int.random(in: 0...3, using: &random)).map { _ in "ab-".randomElement(using: &random)! }
                    case "?": ["ab-".randomElement(using: &random)!]
                    default: [symbol]
                    }
                })
                #expect(narrow.matches(name))
                #expect(wide.matches(name), "\(wide) covers \(narrow) but not \(name) (seed \(random.seed))")
            }
        }
        #expect(covered > 1_000, "too few covering pairs drawn to test anything (seed \(random.seed))")
    }
}
