/// A name with `{cluster}` and `{namespace}` in it: the path of a namespace's SleepInfo manifest
/// (`gitops.gitlab.pathTemplate`), or its Argo CD Application (`gitops.argocd.applicationTemplate`).
public struct NameTemplate: Sendable, Equatable {
    public var template: String

    public init(_ template: String) {
        self.template = template
    }

    public func render(cluster: String, namespace: String) -> String {
        template.replacingOccurrences(of: "{cluster}", with: cluster).replacingOccurrences(of: "{namespace}", with: namespace)
    }
}
