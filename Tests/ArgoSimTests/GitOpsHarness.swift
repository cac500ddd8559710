import ArgoSim
import Foundation
import GitLabSim
import JSON
import Kube
import KubeSim
import TestSupport
import Transport

/// KubeSim + GitLabSim + ArgoSim wired as in production: ArgoSim reads the project through the
/// GitLab API and applies to KubeSim through the Kubernetes API. `kube` is an admin client of
/// the cluster (field manager `sandman`), standing for whoever changes things outside git.
struct GitOpsHarness {
    let cluster: KubeSim
    let gitlab: GitLabSim
    let argocd: ArgoSim
    let kube: KubeClient
    let http: HTTPClient

    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api, labels: {app: api}}
        spec:
          replicas: 3
          selector: {matchLabels: {app: api}}
          template:
            metadata: {labels: {app: api}}
            spec:
              containers: [{name: api, image: "registry.example.com/api:1"}]

        """

    static func application(_ name: String = "staging-payments", syncPolicy: JSONValue = ["automated": ["prune": true, "selfHeal": true]], extra: JSONValue = .emptyObject) -> JSONValue {
        var spec: JSONValue = [
            "project": "default",
            "source": ["repoURL": "http://gitlab.example.com/platform/deploy.git", "path": "apps/payments", "targetRevision": "main"],
            "destination": ["server": .string(ArgoSim.inCluster), "namespace": "payments"],
            "syncPolicy": syncPolicy,
        ]
        for (key, value) in extra.object ?? [:] { spec[key] = value }
        return ["apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": ["name": .string(name), "namespace": "argocd"], "spec": spec]
    }

    static func start(files: [String: String] = ["apps/payments/deployment.yaml": deployment], _ configure: (inout ArgoSim.Configuration) -> Void = { _ in }) async throws -> GitOpsHarness {
        let cluster = try await KubeSim.start()
        try await cluster.load(manifests: "apiVersion: v1\nkind: Namespace\nmetadata: {name: payments}\n")
        var gitlabSettings = GitLabSim.Configuration()
        gitlabSettings.users = [User(id: 1, username: "root"), User(id: 2, username: "argocd")]
        gitlabSettings.tokens = ["root-token": AccessToken(username: "root"), "argocd-read": AccessToken(username: "argocd", scopes: ["read_api"])]
        let gitlab = try await GitLabSim.start(gitlabSettings)
        try await gitlab.createProject(path: "platform/deploy", files: files)

        var settings = ArgoSim.Configuration()
        settings.gitlabURL = gitlab.url
        settings.gitlabToken = "argocd-read"
        settings.tokens = ["admin-token": "admin", "viewer-token": "viewer"]
        settings.readOnlyUsers = ["viewer"]
        settings.selfHealTimeout = .milliseconds(300)
        let access = try Kubeconfig(document: cluster.kubeconfig(user: "argocd-application-controller")).access()
        settings.clusters = [.init(name: "in-cluster", server: ArgoSim.inCluster, access: access)]
        configure(&settings)
        let argocd = try await ArgoSim.start(settings)
        let kube = try KubeClient(name: "staging", access: Kubeconfig(document: cluster.kubeconfig(user: "admin")).access())
        return GitOpsHarness(cluster: cluster, gitlab: gitlab, argocd: argocd, kube: kube, http: HTTPClient())
    }

    func stop() async {
        http.shutdown()
        await argocd.shutdown()
        await gitlab.shutdown()
        await cluster.shutdown()
    }

    struct Reply {
        var status: Int
        var body: JSONValue
    }

    /// A request to ArgoSim's API as `token`'s user.
    func request(_ method: HTTPMethod, _ path: String, token: String? = "admin-token", body: JSONValue? = nil) async throws -> Reply {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        if body != nil { headers["Content-Type"] = "application/json" }
        let response = try await http.send(HTTPRequest(method: method, url: argocd.url + path, headers: headers, body: body?.serializedData()))
        return Reply(status: response.status, body: (try? JSONValue(parsing: response.body)) ?? .null)
    }

    func replicas(_ name: String = "api") async throws -> Int64? {
        try await kube.get(.deployment, namespace: "payments", name: name)[path: ["spec", "replicas"]]?.int
    }

    /// Scales outside git, as a sleep would (scale subresource, field manager `sandman`).
    func scale(_ replicas: Int, name: String = "api") async throws {
        _ = try await kube.setScale(.deployment, namespace: "payments", name: name, replicas: replicas)
    }

    func status(_ name: String = "staging-payments") async -> JSONValue {
        await argocd.application(name)?["status"] ?? .null
    }

    /// Waits until the application is Synced (and Healthy, unless told otherwise) at the branch head.
    func waitSynced(_ name: String = "staging-payments", healthy: Bool = true, timeout: Duration = .seconds(60)) async throws -> Bool {
        let head = await gitlab.head(project: "platform/deploy", branch: "main")
        return try await eventually(timeout: timeout) {
            let application = await argocd.refresh(name) ?? .null
            let status = application["status"] ?? .null
            return status[path: ["sync", "status"]] == "Synced" && (!healthy || status[path: ["health", "status"]] == "Healthy")
                && status[path: ["sync", "revision"]]?.string == head && application["operation"] == nil
        }
    }
}
