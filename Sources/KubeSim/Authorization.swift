import JSON

/// Who a request comes from: the user and groups of its credentials.
struct Identity: Sendable {
    var user: String
    var groups: [String]

    /// The groups kube-apiserver reports, with `system:authenticated` added for authenticated users.
    var allGroups: [String] {
        user == "system:anonymous" ? groups : groups + ["system:authenticated"]
    }
}

/// The simulator's authorization: everyone may do everything, except the configured read-only
/// users, who may only get, list and watch.
struct Authorizer: Sendable {
    var readOnlyUsers: Set<String>

    static let readVerbs: Set<String> = ["get", "list", "watch"]

    func allows(_ identity: Identity, verb: String, type: ResourceType) -> Bool {
        // Reviews are how a client asks what it may do; anyone may ask.
        if type.isCreateOnly { return true }
        return allows(user: identity.user, verb: verb)
    }

    func allows(user: String, verb: String) -> Bool {
        !readOnlyUsers.contains(user) || Self.readVerbs.contains(verb)
    }
}

/// Answers the authentication and authorization reviews (`kubectl auth whoami`, `kubectl auth
/// can-i`, `--list`) from the simulator's authorizer.
struct AccessReview {
    let state: SimulatorState
    let identity: Identity
    let type: ResourceType
    let namespace: String?

    func answer(to body: JSONValue) async throws(APIError) -> JSONValue {
        var review = body
        review["apiVersion"] = .string(type.groupVersion)
        review["kind"] = .string(type.kind)
        if review["metadata"] == nil { review["metadata"] = ["creationTimestamp": .null] }
        let authorizer = state.authorizer
        switch type.kind {
        case "SelfSubjectReview":
            review["status"] = ["userInfo": userInfo(identity)]
        case "TokenReview":
            let token = body[path: ["spec", "token"]]?.string ?? ""
            if let user = state.tokens.withLock({ $0[token] }) {
                review["status"] = ["authenticated": true, "userInfo": userInfo(Identity(user: user, groups: []))]
            } else {
                review["status"] = ["authenticated": false, "error": "invalid bearer token"]
            }
        case "SelfSubjectRulesReview":
            let verbs: JSONValue = authorizer.readOnlyUsers.contains(identity.user) ? ["get", "list", "watch"] : ["*"]
            review["status"] = [
                "resourceRules": [["verbs": verbs, "apiGroups": ["*"], "resources": ["*"]]],
                "nonResourceRules": [["verbs": verbs, "nonResourceURLs": ["*"]]],
                "incomplete": false,
            ]
        default:
            // SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview.
            let user = type.kind == "SelfSubjectAccessReview" ? identity.user : (body[path: ["spec", "user"]]?.string ?? "")
            guard body[path: ["spec", "resourceAttributes"]] != nil || body[path: ["spec", "nonResourceAttributes"]] != nil else {
                throw .invalid(type, "", causes: [FieldError(.required, "spec.resourceAttributes", detail: "exactly one of nonResourceAttributes or resourceAttributes must be specified")])
            }
            let verb = body[path: ["spec", "resourceAttributes", "verb"]]?.string ?? body[path: ["spec", "nonResourceAttributes", "verb"]]?.string ?? ""
            let allowed = authorizer.allows(user: user, verb: verb)
            review["status"] = allowed
                ? ["allowed": true, "reason": "KubeSim allows every request of this user"]
                : ["allowed": false]
        }
        return review
    }

    private func userInfo(_ identity: Identity) -> JSONValue {
        ["username": .string(identity.user), "groups": .array(identity.allGroups.map(JSONValue.string))]
    }
}
