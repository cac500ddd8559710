import Config
import Kube

/// What `sandman config validate` prints for a configuration that loaded.
public struct ConfigurationSummary: Sendable {
    public let configuration: HubConfiguration

    public init(_ configuration: HubConfiguration) {
        self.configuration = configuration
    }

    public var lines: [String] {
        var lines = ["\(configuration.source): OK"]
        lines.append("  listen \(configuration.listen.host):\(configuration.listen.port), database \(configuration.database)")
        lines.append("  plugins \(configuration.plugins.directory)")
        for cluster in configuration.clusters {
            let access = cluster.kubeconfig ?? "default kubeconfig"
            let context = cluster.context.map { " context \($0)" } ?? ""
            lines.append("  cluster \(cluster.name) (\(cluster.tier.rawValue)): \(access)\(context), \(cluster.schedules.count) schedule(s), \(cluster.teams.count) team(s)")
        }
        let slack = configuration.slack
        lines.append("  slack: commands \(slack.commandsEnabled ? "on" : "off (no signing secret)"), notifications \(slack.notificationsEnabled ? "on" : "off (no bot token or webhook)")")
        lines.append("  gitops: \(configuration.gitops.enabled ? "on (\(configuration.gitops.gitlab.project))" : "off")")
        return lines
    }

    /// One line per probed cluster.
    public static func probeLines(_ results: [ProbeResult]) -> [String] {
        results.map { result in
            let latency = "\(result.latency.components.seconds * 1000 + result.latency.components.attoseconds / 1_000_000_000_000_000) ms"
            if let failure = result.failure {
                return "probe \(result.cluster) (\(result.server)): FAILED after \(latency): \(failure)"
            }
            return "probe \(result.cluster) (\(result.server)): ok, user \(result.user ?? "unknown"), \(result.version ?? "unknown version"), ready, \(latency)"
        }
    }
}
