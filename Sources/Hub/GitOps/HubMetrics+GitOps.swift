import GitOps

/// GitOps metrics: calls to GitLab and Argo CD by result, how long each stage of a request took,
/// sleeps Argo CD undid.
extension HubMetrics {
    /// `sandman_gitops_requests_total{service, call, result}` and its duration histogram.
    public func recordGitOpsRequest(service: GitOpsError.Service, call: String, result: String, seconds: Double) {
        let name = service == .gitlab ? "gitlab" : "argocd"
        counter(.gitopsRequests, [("service", name), ("call", call), ("result", result)]).increment()
        histogram(.gitopsRequestDuration, [("service", name), ("call", call)]).record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// `sandman_gitops_stage_duration_seconds{stage}`: from the previous stage (or the request)
    /// to this one; `total` from the request to `done`.
    public func recordGitOpsStage(_ stage: String, seconds: Double) {
        histogram(.gitopsStageDuration, [("stage", stage)]).record(.nanoseconds(Int64(max(0, seconds) * 1e9)))
    }

    /// `sandman_gitops_results_total{result}`: how GitOps requests ended (succeeded, failed, rejected, superseded).
    public func recordGitOpsResult(_ result: String) {
        counter(.gitopsResults, [("result", result)]).increment()
    }

    /// `sandman_sleep_reverted_total{cluster, application}`: sleeps Argo CD scaled back up.
    public func recordSleepReverted(cluster: String, application: String) {
        counter(.sleepReverted, [("cluster", cluster), ("application", application)]).increment()
    }
}
