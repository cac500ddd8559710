import CoreMetrics
import GitOps

/// GitOps metrics: calls to GitLab and Argo CD by result, how long each stage of a request took,
/// sleeps Argo CD undid.
extension HubMetrics {
    /// `sandman_gitops_requests_total{service, call, result}` and its duration histogram.
    public func recordGitOpsRequest(service: GitOpsError.Service, call: String, result: String, seconds: Double) {
        let name = service == .gitlab ? "gitlab" : "argocd"
        CoreMetrics.Counter(label: "sandman_gitops_requests_total", dimensions: [("service", name), ("call", call), ("result", result)], factory: factory)
            .increment()
        CoreMetrics.Timer(label: "sandman_gitops_request_duration_seconds", dimensions: [("service", name), ("call", call)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    /// `sandman_gitops_stage_duration_seconds{stage}`: from the previous stage (or the request)
    /// to this one; `total` from the request to `done`.
    public func recordGitOpsStage(_ stage: String, seconds: Double) {
        CoreMetrics.Timer(label: "sandman_gitops_stage_duration_seconds", dimensions: [("stage", stage)], factory: factory)
            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    /// `sandman_gitops_results_total{result}`: how GitOps requests ended (succeeded, failed, rejected, superseded).
    public func recordGitOpsResult(_ result: String) {
        CoreMetrics.Counter(label: "sandman_gitops_results_total", dimensions: [("result", result)], factory: factory).increment()
    }

    /// `sandman_sleep_reverted_total{cluster, application}`: sleeps Argo CD scaled back up.
    public func recordSleepReverted(cluster: String, application: String) {
        CoreMetrics.Counter(label: "sandman_sleep_reverted_total", dimensions: [("cluster", cluster), ("application", application)], factory: factory)
            .increment()
    }
}
