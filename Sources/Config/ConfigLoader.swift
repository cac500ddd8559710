import Foundation
import JSON
import Scheduling
import Sleep
import Yams

/// Reads `sandman.yaml` and the cluster files it points at into a checked `HubConfiguration`,
/// reporting every problem at once with its file, line and field.
public enum ConfigLoader {
    /// Environment variables that override file values (secrets belong here, not in files).
    public enum Environment {
        public static let listen = "SANDMAN_LISTEN"
        public static let database = "SANDMAN_DATABASE"
        /// A `postgres://` URL, password included: overrides `database`.
        public static let databaseURL = "SANDMAN_DATABASE_URL"
        public static let clusterDirectory = "SANDMAN_CLUSTERS_DIR"
        public static let pluginDirectory = "SANDMAN_PLUGINS_DIR"
        /// Comma-separated, for rotation.
        public static let slackSigningSecrets = "SANDMAN_SLACK_SIGNING_SECRETS"
        public static let slackBotToken = "SANDMAN_SLACK_BOT_TOKEN"
        public static let slackWebhookURL = "SANDMAN_SLACK_WEBHOOK_URL"
        public static let gitlabToken = "SANDMAN_GITLAB_TOKEN"
        public static let argocdToken = "SANDMAN_ARGOCD_TOKEN"
        public static let gitlabWebhookSecret = "SANDMAN_GITLAB_WEBHOOK_SECRET"
        /// An admin API token installed at start (at least 32 characters).
        public static let bootstrapToken = "SANDMAN_BOOTSTRAP_TOKEN"
    }

    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> HubConfiguration {
        let diagnostics = ConfigDiagnostics()
        let file = URL(fileURLWithPath: path).standardizedFileURL
        guard let root = readDocument(file.path, diagnostics: diagnostics) else {
            throw ConfigError(issues: diagnostics.issues)
        }
        var configuration = readHub(root, directory: file.deletingLastPathComponent(), environment: environment)
        configuration.clusters = readClusters(in: configuration.clusterDirectory, diagnostics: diagnostics)
        check(configuration, root: root)
        guard diagnostics.issues.isEmpty else { throw ConfigError(issues: diagnostics.issues) }
        configuration.warnings = diagnostics.warnings
        return configuration
    }

    /// The root of a YAML file, or nil after reporting why it cannot be read.
    static func readDocument(_ path: String, diagnostics: ConfigDiagnostics) -> ConfigNode? {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            diagnostics.report(ConfigIssue(file: path, field: "", message: exists ? "cannot read file: \(error.localizedDescription)" : "file not found"))
            return nil
        }
        do {
            let node = ConfigNode(file: path, path: "", node: try Yams.compose(yaml: text), diagnostics: diagnostics)
            guard node.isPresent else {
                diagnostics.report(ConfigIssue(file: path, field: "", message: "file is empty"))
                return nil
            }
            guard node.expectMapping() else { return nil }
            return node
        } catch {
            let problem = YAMLConversionError(error)
            diagnostics.report(ConfigIssue(file: path, line: problem.line, field: "", message: problem.reason))
            return nil
        }
    }

    static func absolute(_ path: String, relativeTo directory: URL) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded).standardizedFileURL.path }
        return directory.appendingPathComponent(expanded).standardizedFileURL.path
    }

    // MARK: sandman.yaml

    private static func readHub(_ root: ConfigNode, directory: URL, environment: [String: String]) -> HubConfiguration {
        let path = { (node: ConfigNode, fallback: String, variable: String) -> String in
            absolute(environment[variable] ?? node.nonEmptyString() ?? fallback, relativeTo: directory)
        }
        var configuration = HubConfiguration(
            source: root.file,
            database: readDatabase(root["database"], directory: directory, environment: environment),
            plugins: .init(directory: ""),
            clusterDirectory: path(root["clusters"], "clusters", Environment.clusterDirectory)
        )
        let listenNode = root["listen"]
        if let text = environment[Environment.listen] ?? listenNode.string() {
            if let listen = parseListen(text) { configuration.listen = listen } else {
                listenNode.report("expected host:port with a port from 0 to 65535, got \"\(text)\"")
            }
        }
        configuration.logLevel = root["logLevel"].oneOf(LogLevelName.self)?.rawValue ?? configuration.logLevel
        configuration.resyncInterval = root["resyncInterval"].duration(default: configuration.resyncInterval, atLeast: .seconds(10))

        let plugins = root["plugins"]
        plugins.expectMapping()
        configuration.plugins = HubConfiguration.Plugins(directory: path(plugins["directory"], "plugins", Environment.pluginDirectory))
        configuration.plugins.callTimeout = plugins["callTimeout"].duration(default: configuration.plugins.callTimeout, atLeast: .milliseconds(1))
        configuration.plugins.memoryLimitBytes = plugins["memoryLimitMiB"].int(default: 32, in: 1...4096) << 20
        configuration.plugins.reloadInterval = plugins["reloadInterval"].duration(default: configuration.plugins.reloadInterval, atLeast: .milliseconds(100))
        plugins.rejectUnknownFields()

        configuration.slack = readSlack(root["slack"], environment: environment)
        configuration.gitops = readGitOps(root["gitops"], environment: environment)
        configuration.limits = readLimits(root["limits"])
        configuration.prices = readPrices(root["prices"])
        configuration.leaderElection = readLeaderElection(root["leaderElection"], sharedStore: configuration.database.isShared)
        if let token = environment[Environment.bootstrapToken]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty {
            if token.count < 32 {
                root.report("\(Environment.bootstrapToken) must be at least 32 characters (it is an admin token), got \(token.count)")
            } else {
                configuration.bootstrapToken = token
            }
        }
        root.rejectUnknownFields()
        return configuration
    }

    private enum LogLevelName: String, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    static func parseListen(_ text: String) -> HubConfiguration.Listen? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return HubConfiguration.Listen(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    private static func readSlack(_ node: ConfigNode, environment: [String: String]) -> HubConfiguration.Slack {
        var slack = HubConfiguration.Slack()
        if node.expectMapping() {
            slack.signingSecrets = node["signingSecrets"].stringList()
            slack.botToken = node["botToken"].nonEmptyString()
            slack.webhookURL = node["webhookURL"].nonEmptyString()
            if let url = node["apiURL"].nonEmptyString() { slack.apiURL = url }
            slack.defaultChannel = node["defaultChannel"].nonEmptyString()
            if let zone = node["timeZone"].nonEmptyString() {
                if TimeZone(identifier: zone) == nil {
                    node["timeZone"].report("unknown time zone \"\(zone)\" (an IANA name such as Europe/Rome expected)")
                } else {
                    slack.timeZone = zone
                }
            }
            slack.preSleepWarning = node["preSleepWarning"].duration(default: slack.preSleepWarning)
            slack.maxDeliveryAge = node["maxDeliveryAge"].duration(default: slack.maxDeliveryAge, atLeast: .minutes(1))
            slack.productionAllowList = node["productionAllowList"].stringList()
            slack.principals = node["principals"].items().compactMap(readPrincipal)
            node.rejectUnknownFields()
            for (field, url) in [("webhookURL", slack.webhookURL), ("apiURL", slack.apiURL)] {
                if let url, !isHTTPURL(url) { node[field].report("expected an http or https URL, got \"\(url)\"") }
            }
        }
        if let secrets = environment[Environment.slackSigningSecrets] {
            slack.signingSecrets = secrets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        slack.botToken = environment[Environment.slackBotToken] ?? slack.botToken
        slack.webhookURL = environment[Environment.slackWebhookURL] ?? slack.webhookURL
        return slack
    }

    private static func readPrincipal(_ node: ConfigNode) -> HubConfiguration.SlackPrincipal? {
        guard node.expectMapping() else {
            if !node.isPresent { node.report("expected a mapping with users, userGroups or channels and a role") }
            return nil
        }
        var principal = HubConfiguration.SlackPrincipal()
        principal.users = node["users"].stringList()
        principal.userGroups = node["userGroups"].stringList()
        principal.channels = node["channels"].stringList()
        let role = node["role"]
        if role.isPresent { principal.role = role.oneOf(Role.self) ?? .viewer } else { role.report("required: one of viewer, operator, admin") }
        principal.teams = node["teams"].stringList()
        principal.clusters = node["clusters"].stringList()
        node.rejectUnknownFields()
        if principal.users.isEmpty && principal.userGroups.isEmpty && principal.channels.isEmpty {
            node.report("names nobody: give at least one of users, userGroups, channels")
            return nil
        }
        return principal
    }

    private static func readGitOps(_ node: ConfigNode, environment: [String: String]) -> HubConfiguration.GitOps {
        var gitops = HubConfiguration.GitOps()
        if node.expectMapping() {
            gitops.enabled = node["enabled"].bool(default: false)
            gitops.hubURL = node["hubURL"].nonEmptyString()
            gitops.cleanupInterval = node["cleanupInterval"].duration(default: gitops.cleanupInterval, atLeast: .seconds(1))
            let gitlab = node["gitlab"]
            if gitlab.expectMapping() {
                gitops.gitlab.url = gitlab["url"].string(default: gitops.gitlab.url)
                gitops.gitlab.project = gitlab["project"].string(default: "")
                gitops.gitlab.token = gitlab["token"].nonEmptyString()
                gitops.gitlab.targetBranch = gitlab["targetBranch"].string(default: gitops.gitlab.targetBranch)
                gitops.gitlab.pathTemplate = gitlab["pathTemplate"].string(default: gitops.gitlab.pathTemplate)
                gitops.gitlab.webhookSecret = gitlab["webhookSecret"].nonEmptyString()
                gitops.gitlab.pollInterval = gitlab["pollInterval"].duration(default: gitops.gitlab.pollInterval, atLeast: .milliseconds(100))
                if gitlab["labels"].isPresent { gitops.gitlab.labels = gitlab["labels"].stringList() }
                gitlab.rejectUnknownFields()
            }
            let argocd = node["argocd"]
            if argocd.expectMapping() {
                gitops.argocd.url = argocd["url"].string(default: "")
                gitops.argocd.token = argocd["token"].nonEmptyString()
                gitops.argocd.applicationTemplate = argocd["applicationTemplate"].string(default: gitops.argocd.applicationTemplate)
                argocd.rejectUnknownFields()
            }
            let timeouts = node["timeouts"]
            if timeouts.expectMapping() {
                let least = Duration.milliseconds(100)
                gitops.timeouts.mergeRequest = timeouts["mergeRequest"].duration(default: gitops.timeouts.mergeRequest, atLeast: least)
                gitops.timeouts.approval = timeouts["approval"].duration(default: gitops.timeouts.approval, atLeast: least)
                gitops.timeouts.merge = timeouts["merge"].duration(default: gitops.timeouts.merge, atLeast: least)
                gitops.timeouts.sync = timeouts["sync"].duration(default: gitops.timeouts.sync, atLeast: least)
                gitops.timeouts.apply = timeouts["apply"].duration(default: gitops.timeouts.apply, atLeast: least)
                timeouts.rejectUnknownFields()
            }
            node.rejectUnknownFields()
            if gitops.enabled {
                if gitops.gitlab.project.isEmpty { gitlab["project"].report("required when gitops.enabled is true") }
                if !isHTTPURL(gitops.gitlab.url) { gitlab["url"].report("expected an http or https URL, got \"\(gitops.gitlab.url)\"") }
                if !isHTTPURL(gitops.argocd.url) { argocd["url"].report("required when gitops.enabled is true: an http or https URL") }
                if !gitops.gitlab.pathTemplate.contains("{namespace}") {
                    gitlab["pathTemplate"].report("must contain {namespace}, got \"\(gitops.gitlab.pathTemplate)\"")
                }
                if !gitops.argocd.applicationTemplate.contains("{namespace}") {
                    argocd["applicationTemplate"].report("must contain {namespace}, got \"\(gitops.argocd.applicationTemplate)\"")
                }
            } else if !gitops.argocd.url.isEmpty, !isHTTPURL(gitops.argocd.url) {
                argocd["url"].report("expected an http or https URL, got \"\(gitops.argocd.url)\"")
            }
            if let hubURL = gitops.hubURL, !isHTTPURL(hubURL) { node["hubURL"].report("expected an http or https URL, got \"\(hubURL)\"") }
        }
        gitops.gitlab.token = environment[Environment.gitlabToken] ?? gitops.gitlab.token
        gitops.argocd.token = environment[Environment.argocdToken] ?? gitops.argocd.token
        gitops.gitlab.webhookSecret = environment[Environment.gitlabWebhookSecret] ?? gitops.gitlab.webhookSecret
        return gitops
    }

    private static func readLimits(_ node: ConfigNode) -> HubConfiguration.Limits {
        var limits = HubConfiguration.Limits()
        guard node.expectMapping() else { return limits }
        limits.maxDuration = node["maxDuration"].duration(default: limits.maxDuration, atLeast: .minutes(1))
        limits.maxReasonLength = node["maxReasonLength"].int(default: limits.maxReasonLength, in: 1...10_000)
        node.rejectUnknownFields()
        return limits
    }

    private static func readPrices(_ node: ConfigNode) -> HubConfiguration.Prices {
        var prices = HubConfiguration.Prices()
        guard node.expectMapping() else { return prices }
        prices.cpuHour = node["cpuHour"].double(default: prices.cpuHour, atLeast: 0)
        prices.memoryGiBHour = node["memoryGiBHour"].double(default: prices.memoryGiBHour, atLeast: 0)
        prices.currency = node["currency"].string(default: prices.currency)
        node.rejectUnknownFields()
        return prices
    }

    /// On by default with a shared (PostgreSQL) store: its replicas must split the clusters.
    private static func readLeaderElection(_ node: ConfigNode, sharedStore: Bool) -> HubConfiguration.LeaderElection {
        var election = HubConfiguration.LeaderElection()
        election.enabled = sharedStore
        guard node.expectMapping() else { return election }
        election.enabled = node["enabled"].bool(default: sharedStore)
        election.homeCluster = node["homeCluster"].nonEmptyString()
        election.namespace = node["namespace"].string(default: election.namespace)
        election.identity = node["identity"].string(default: election.identity)
        election.leaseDuration = node["leaseDuration"].duration(default: election.leaseDuration, atLeast: .seconds(1))
        election.renewDeadline = node["renewDeadline"].duration(default: election.renewDeadline, atLeast: .seconds(1))
        election.retryPeriod = node["retryPeriod"].duration(default: election.retryPeriod, atLeast: .milliseconds(100))
        node.rejectUnknownFields()
        if election.renewDeadline >= election.leaseDuration {
            node["renewDeadline"].report("must be shorter than leaseDuration (\(DurationText.format(election.leaseDuration)))")
        }
        return election
    }

    private static func readDowntimeReplicas(_ node: ConfigNode) -> DowntimeReplicas? {
        guard let text = node.string() else { return nil }
        guard let replicas = DowntimeReplicas(text) else {
            node.report("expected \(DowntimeReplicas.expected), got \"\(text)\"")
            return nil
        }
        return replicas
    }

    // MARK: clusters/<name>.yaml

    private static func readClusters(in directory: String, diagnostics: ConfigDiagnostics) -> [ClusterConfiguration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            diagnostics.report(ConfigIssue(file: directory, field: "", message: "clusters directory not found or unreadable"))
            return []
        }
        let files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        if files.isEmpty {
            diagnostics.report(ConfigIssue(file: directory, field: "", message: "no cluster files (<name>.yaml) in the clusters directory"))
        }
        return files.compactMap { name in
            let path = (directory as NSString).appendingPathComponent(name)
            guard let root = readDocument(path, diagnostics: diagnostics) else { return nil }
            return readCluster(root, defaultName: (name as NSString).deletingPathExtension)
        }
    }

    static func readCluster(_ root: ConfigNode, defaultName: String) -> ClusterConfiguration {
        let directory = URL(fileURLWithPath: root.file).deletingLastPathComponent()
        let nameNode = root["name"]
        let name = nameNode.nonEmptyString() ?? defaultName
        if !isDNSLabel(name) {
            (nameNode.isPresent ? nameNode : root).report("cluster name \"\(name)\" must be a DNS label: lowercase letters, digits and '-', at most 63")
        }
        let tierNode = root["tier"]
        if !tierNode.isPresent { tierNode.report("required: one of production, staging, development") }
        var cluster = ClusterConfiguration(
            name: name,
            source: root.file,
            nameLine: nameNode.node?.mark?.line,
            tier: tierNode.oneOf(ClusterConfiguration.Tier.self) ?? .production,
            kubeconfig: nil,
            context: root["context"].nonEmptyString(),
            namespaces: .init(),
            schedules: [],
            teams: [],
            slackChannel: root["slackChannel"].nonEmptyString(),
            client: .init()
        )
        let kubeconfig = root["kubeconfig"]
        if kubeconfig.nonEmptyString() == "in-cluster" {
            cluster.inCluster = true
            if cluster.context != nil { root["context"].report("has no meaning with kubeconfig: in-cluster") }
        } else if let path = kubeconfig.nonEmptyString() {
            let resolved = absolute(path, relativeTo: directory)
            if !FileManager.default.fileExists(atPath: resolved) { kubeconfig.report("file not found: \(resolved)") }
            cluster.kubeconfig = resolved
        }

        let namespaces = root["namespaces"]
        if namespaces.expectMapping() {
            if namespaces["include"].isPresent { cluster.namespaces.include = namespaces["include"].stringList().map(NamePattern.init) }
            if namespaces["exclude"].isPresent { cluster.namespaces.exclude = namespaces["exclude"].stringList().map(NamePattern.init) }
            namespaces.rejectUnknownFields()
        }

        let scheduleNodes = root["schedules"].items()
        let schedules = scheduleNodes.map(readSchedule)
        cluster.schedules = schedules.compactMap { $0 }
        let scheduleNames = cluster.schedules.map(\.name)
        for duplicate in Set(scheduleNames) where scheduleNames.filter({ $0 == duplicate }).count > 1 {
            root["schedules"].report("schedule name \"\(duplicate)\" is used more than once")
        }
        warnAboutShadowedSchedules(schedules, nodes: scheduleNodes)
        cluster.teams = root["teams"].items().compactMap(readTeam)
        let teamNames = cluster.teams.map(\.name)
        for duplicate in Set(teamNames) where teamNames.filter({ $0 == duplicate }).count > 1 {
            root["teams"].report("team name \"\(duplicate)\" is used more than once")
        }

        let client = root["client"]
        if client.expectMapping() {
            if client["qps"].isPresent { cluster.client.qps = client["qps"].double(default: 50, atLeast: 0.1) }
            cluster.client.burst = client["burst"].int(default: cluster.client.burst, in: 1...10_000)
            cluster.client.concurrency = client["concurrency"].int(default: cluster.client.concurrency, in: 1...1_000)
            cluster.client.timeout = client["timeout"].duration(default: cluster.client.timeout, atLeast: .seconds(1))
            client.rejectUnknownFields()
        }
        cluster.gitops = readClusterGitOps(root["gitops"])
        root.rejectUnknownFields()
        return cluster
    }

    private static func readClusterGitOps(_ node: ConfigNode) -> ClusterConfiguration.GitOps {
        var gitops = ClusterConfiguration.GitOps()
        guard node.expectMapping() else { return gitops }
        gitops.namespaces = node["namespaces"].stringList().map(NamePattern.init)
        gitops.detect = node["detect"].bool(default: gitops.detect)
        let argocd = node["argocd"]
        if argocd.expectMapping() {
            gitops.selfHeal = argocd["selfHeal"].oneOf(ClusterConfiguration.GitOps.SelfHeal.self) ?? gitops.selfHeal
            argocd.rejectUnknownFields()
        }
        node.rejectUnknownFields()
        return gitops
    }

    private static func readTeam(_ node: ConfigNode) -> ClusterConfiguration.Team? {
        guard node.expectMapping() else { return nil }
        let nameNode = node["name"]
        let name = nameNode.nonEmptyString()
        if !nameNode.isPresent { nameNode.report("required") }
        let namespacesNode = node["namespaces"]
        let namespaces = namespacesNode.stringList().map(NamePattern.init)
        if namespaces.isEmpty { namespacesNode.report("required: at least one namespace name or pattern") }
        let channel = node["slackChannel"].nonEmptyString()
        node.rejectUnknownFields()
        guard let name else { return nil }
        return ClusterConfiguration.Team(name: name, namespaces: namespaces, slackChannel: channel)
    }

    private static func readSchedule(_ node: ConfigNode) -> ClusterConfiguration.HubSchedule? {
        guard node.expectMapping() else { return nil }
        let required = { (key: String) -> String? in
            let field = node[key]
            if !field.isPresent { field.report("required") }
            return field.nonEmptyString()
        }
        let name = required("name")
        let namespacesNode = node["namespaces"]
        let namespaces = namespacesNode.stringList().map(NamePattern.init)
        if namespaces.isEmpty { namespacesNode.report("required: at least one namespace name or pattern") }
        let weekdays = required("weekdays")
        let sleepAt = required("sleepAt")
        let schedule = ClusterConfiguration.HubSchedule(
            name: name ?? "",
            namespaces: namespaces,
            weekdays: weekdays ?? "*",
            sleepDays: node["sleepDays"].nonEmptyString(),
            wakeDays: node["wakeDays"].nonEmptyString(),
            sleepAt: sleepAt ?? "",
            wakeUpAt: node["wakeUpAt"].nonEmptyString(),
            timeZone: node["timeZone"].string(default: "UTC"),
            exceptions: node["exceptions"].stringList(),
            suspendCronJobs: node["suspendCronJobs"].bool(default: false),
            suspendDeployments: node["suspendDeployments"].bool(default: true),
            suspendStatefulSets: node["suspendStatefulSets"].bool(default: true),
            native: [
                (SleepSpec.NativeKind.rollouts, node["suspendRollouts"].bool(default: true)),
                (.scaledObjects, node["pauseScaledObjects"].bool(default: true)),
                (.daemonSets, node["suspendDaemonSets"].bool(default: false)),
                (.jobs, node["suspendJobs"].bool(default: false)),
            ].filter(\.1).map(\.0),
            downtimeReplicas: readDowntimeReplicas(node["downtimeReplicas"]),
            gracePeriod: node["gracePeriod"].duration(default: .zero)
        )
        // Every field is checked on its own: one bad field hides none of the others.
        let problems = SleepSchedule.problems(
            weekdays: weekdays, sleepAt: sleepAt, wakeUpAt: schedule.wakeUpAt, timeZone: schedule.timeZone,
            sleepDays: schedule.sleepDays, wakeDays: schedule.wakeDays, exceptions: schedule.exceptions
        )
        for error in problems {
            // Point at the offending list item for dates, at the field otherwise.
            let field = node[error.field]
            let target = error.field == "exceptions" ? field.items().first { $0.string() == error.value } ?? field : field
            target.report(error.field == "exceptions" ? "expected a date YYYY-MM-DD, got \"\(error.value)\"" : "\"\(error.value)\": \(error.reason)")
        }
        node.rejectUnknownFields()
        guard name != nil, weekdays != nil, sleepAt != nil else { return nil }
        return schedule
    }

    /// A namespace takes the first schedule naming it: a schedule whose every pattern an
    /// earlier one covers never applies (the earlier one is probably meant to exclude them).
    private static func warnAboutShadowedSchedules(_ schedules: [ClusterConfiguration.HubSchedule?], nodes: [ConfigNode]) {
        for (index, schedule) in schedules.enumerated() {
            guard let schedule, !schedule.namespaces.isEmpty else { continue }
            let earlier = schedules[..<index].compactMap { $0 }
            let shadowing = schedule.namespaces.map { pattern in earlier.first { $0.namespaces.contains { $0.covers(pattern) } } }
            guard shadowing.allSatisfy({ $0 != nil }) else { continue }
            let names = Set(shadowing.compactMap { $0?.name }).sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            nodes[index]["namespaces"].warn(
                "schedule \"\(schedule.name)\" never applies: every namespace it names is taken first by \(names) "
                    + "(a namespace follows the first schedule that names it; move this one up or narrow the earlier one)"
            )
        }
    }

    // MARK: Cross-file checks

    private static func check(_ configuration: HubConfiguration, root: ConfigNode) {
        var seen: [String: String] = [:]
        for cluster in configuration.clusters {
            if let other = seen[cluster.name] {
                root.diagnostics.report(ConfigIssue(
                    file: cluster.source, line: cluster.nameLine ?? 1, field: "name", message: "cluster \"\(cluster.name)\" is already defined in \(other)"
                ))
            }
            seen[cluster.name] = cluster.source
        }
        let clusterNames = Set(configuration.clusters.map(\.name))
        let teamNames = Set(configuration.clusters.flatMap { $0.teams.map(\.name) })
        for (index, principal) in configuration.slack.principals.enumerated() {
            let node = root["slack"]["principals"].items()[safe: index]
            for team in principal.teams where !teamNames.contains(team) {
                node?["teams"].report("unknown team \"\(team)\"; teams: \(teamNames.sorted().joined(separator: ", "))")
            }
            for cluster in principal.clusters where !clusterNames.contains(cluster) {
                node?["clusters"].report("unknown cluster \"\(cluster)\"; clusters: \(clusterNames.sorted().joined(separator: ", "))")
            }
        }
        if configuration.slack.botToken != nil, configuration.slack.defaultChannel == nil {
            let unrouted = configuration.clusters.filter { $0.slackChannel == nil }.map(\.name)
            let what = unrouted.isEmpty ? "" : " and of clusters \(unrouted.sorted().joined(separator: ", ")) outside a team with a channel"
            root["slack"].warn("no defaultChannel: notifications about plugins\(what) are not sent (chat.postMessage needs a channel)")
        }
        let election = configuration.leaderElection
        if configuration.database.isShared, !election.enabled {
            root["leaderElection"]["enabled"].warn(
                "false with a PostgreSQL store: each replica acts on every cluster; run one replica only"
            )
        }
        if election.enabled {
            let node = root["leaderElection"]["homeCluster"]
            if let home = election.homeCluster {
                if !clusterNames.contains(home) { node.report("unknown cluster \"\(home)\"; clusters: \(clusterNames.sorted().joined(separator: ", "))") }
            } else if root["leaderElection"]["enabled"].bool() == true {
                node.report("required when leaderElection.enabled is true: the cluster holding the Leases")
            } else {
                node.report(
                    "required with a PostgreSQL store, where leader election is on by default so that replicas split the clusters: "
                        + "name the cluster holding the Leases, or set leaderElection.enabled: false to run one replica"
                )
            }
        }
    }

    private static func isDNSLabel(_ name: String) -> Bool {
        guard (1...63).contains(name.count), let first = name.first, let last = name.last else { return false }
        let allowed = name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
        return allowed && first != "-" && last != "-"
    }

    private static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else { return false }
        return (scheme == "http" || scheme == "https") && url.host != nil
    }
}

extension Array {
    subscript(safe index: Int) -> Element? {
        indices.contains(index) ? self[index] : nil
    }
}
