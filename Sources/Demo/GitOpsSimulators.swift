import ArgoSim
import Foundation
import GitLabSim
import JSON
import Kube
import KubeSim

/// KubeSim, GitLabSim and ArgoSim wired together: ArgoSim reads the GitLab project through
/// GitLabSim's API and applies it to the KubeSim cluster. For `sandman sim all`, the demo and
/// end-to-end tests of the GitOps mode.
///
/// A fixtures directory holds `cluster/` (KubeSim manifests), `repo/` (the first commit of the
/// GitLab project) and `applications.yaml` (Argo CD Applications; their `repoURL` path names the
/// GitLab project, the host is not used). Applications deploying to a named destination (see
/// ``Options/destinations``) live in `applications-<name>.yaml`, loaded with that destination.
public struct GitOpsSimulators: Sendable {
    public struct Options: Sendable {
        public var fixtures: String
        /// CRDs (multi-document YAML files) to load into the cluster first, e.g. the SleepInfo CRD.
        public var crds: [String] = []
        /// Also loads the CRDs KubeSim ships (the SleepInfo CRD), for callers without the files.
        public var bundledCRDs = false
        /// The stack's own cluster (Argo CD's `in-cluster`).
        public var kube: KubeSim.Configuration = {
            var settings = KubeSim.Configuration()
            settings.workloadReadyDelay = .milliseconds(500)
            return settings
        }()
        /// Clusters Argo CD deploys to besides its own, by the `destination.name` Applications use.
        public var destinations: [String: KubeSim] = [:]
        public var project = "platform/deploy"
        public var gitlabToken = "glpat-sandman-sim"
        public var argocdToken = "argocd-sandman-sim"
        public var reconciliationInterval: Duration = .seconds(180)
        public var selfHealTimeout: Duration = .seconds(5)
        public var mergeabilityCheckDelay: Duration = .milliseconds(500)
        public var tls = true

        public init(fixtures: String) {
            self.fixtures = fixtures
        }
    }

    public let kube: KubeSim
    public let gitlab: GitLabSim
    public let argocd: ArgoSim
    public let options: Options
    /// The kubeconfig ArgoSim uses (user `argocd-application-controller`).
    public let kubeconfig: String

    public static func start(_ options: Options) async throws -> GitOpsSimulators {
        var kubeSettings = options.kube
        kubeSettings.tls = options.tls
        let kube = try await KubeSim.start(kubeSettings)
        do {
            if options.bundledCRDs { try await kube.loadBundledCustomResourceDefinitions() }
            for crd in options.crds { try await kube.load(manifests: String(contentsOfFile: crd, encoding: .utf8), source: crd) }
            let cluster = options.fixtures + "/cluster"
            if FileManager.default.fileExists(atPath: cluster) { try await kube.load(directory: cluster) }
        } catch {
            await kube.shutdown()
            throw error
        }

        var gitlabSettings = GitLabSim.Configuration()
        gitlabSettings.users = [
            User(id: 1, username: "root", name: "Administrator"), User(id: 2, username: "sandman-bot", name: "Sandman"),
            User(id: 3, username: "argocd", name: "Argo CD"), User(id: 4, username: "alice", name: "Alice Approver"),
        ]
        gitlabSettings.tokens = [
            options.gitlabToken: AccessToken(username: "sandman-bot"), "glpat-argocd-read": AccessToken(username: "argocd", scopes: ["read_api"]),
            "glpat-alice": AccessToken(username: "alice"),
        ]
        gitlabSettings.mergeabilityCheckDelay = options.mergeabilityCheckDelay
        let gitlab = try await GitLabSim.start(gitlabSettings)

        let kubeconfig = try kube.kubeconfig(user: "argocd-application-controller")
        var argoSettings = ArgoSim.Configuration()
        argoSettings.gitlabURL = gitlab.url
        argoSettings.gitlabToken = "glpat-argocd-read"
        argoSettings.tokens = [options.argocdToken: "sandman"]
        argoSettings.reconciliationInterval = options.reconciliationInterval
        argoSettings.selfHealTimeout = options.selfHealTimeout
        do {
            let access = try Kubeconfig(document: kubeconfig).access()
            argoSettings.clusters = [.init(name: "in-cluster", server: ArgoSim.inCluster, access: access)]
            for (name, sim) in options.destinations.sorted(by: { $0.key < $1.key }) {
                let access = try Kubeconfig(document: sim.kubeconfig(user: "argocd-application-controller")).access()
                argoSettings.clusters.append(.init(name: name, server: sim.url, access: access))
            }
        } catch {
            await gitlab.shutdown()
            await kube.shutdown()
            throw error
        }
        let argocd = try await ArgoSim.start(argoSettings)
        let stack = GitOpsSimulators(kube: kube, gitlab: gitlab, argocd: argocd, options: options, kubeconfig: kubeconfig)
        do {
            let repo = options.fixtures + "/repo"
            if FileManager.default.fileExists(atPath: repo) {
                try await gitlab.loadProject(path: options.project, directory: repo)
            } else {
                try await gitlab.createProject(path: options.project)
            }
            let files = ["applications.yaml"] + options.destinations.keys.sorted().map { "applications-\($0).yaml" }
            for applications in files.map({ options.fixtures + "/" + $0 }) where FileManager.default.fileExists(atPath: applications) {
                try await argocd.load(applications: String(contentsOfFile: applications, encoding: .utf8), source: applications)
            }
        } catch {
            await stack.shutdown()
            throw error
        }
        return stack
    }

    public func shutdown() async {
        await argocd.shutdown()
        await gitlab.shutdown()
        await kube.shutdown()
    }

    /// URLs and credentials, for a person.
    public var summary: String {
        """
        KubeSim:  \(kube.url)
        GitLab:   \(gitlab.url)   project \(options.project)   token \(options.gitlabToken) (PRIVATE-TOKEN)
                  approver token glpat-alice (user alice)
        Argo CD:  \(argocd.url)   token \(options.argocdToken) (Authorization: Bearer), or admin / password
        """
    }
}
