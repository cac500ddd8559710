import JSON

/// kube-apiserver's name and label syntax (apimachinery/pkg/util/validation), with its messages.
enum NameRules {
    private static func matches(_ text: String, _ pattern: String) -> Bool {
        Patterns.matches(text, "^(?:\(pattern))$")
    }

    private static let label = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    private static let qualifiedNamePart = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

    /// A length limit and a pattern, each with kube-apiserver's message.
    private static func check(_ name: String, maximum: Int, pattern: String, message: String) -> [String] {
        var problems: [String] = []
        if name.count > maximum { problems.append("must be no more than \(maximum) characters") }
        if !matches(name, pattern) { problems.append(message) }
        return problems
    }

    /// RFC 1123 subdomain: the rule for most object names.
    static func subdomain(_ name: String) -> [String] {
        check(name, maximum: 253, pattern: "\(label)(\\.\(label))*", message: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    }

    /// RFC 1123 label: namespaces and container names.
    static func label(_ name: String) -> [String] {
        check(name, maximum: 63, pattern: label, message: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    }

    /// RFC 1035 label: service names.
    static func label1035(_ name: String) -> [String] {
        check(name, maximum: 63, pattern: "[a-z]([-a-z0-9]*[a-z0-9])?", message: "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
    }

    /// Path segment names: RBAC objects may be named anything without `/` or `%`.
    static func pathSegment(_ name: String) -> [String] {
        if name == "." || name == ".." { return ["may not be '\(name)'"] }
        if name.contains("/") { return ["may not contain '/'"] }
        if name.contains("%") { return ["may not contain '%'"] }
        return []
    }

    /// Label and annotation keys, finalizers: an optional DNS subdomain prefix and a name.
    static func qualifiedName(_ key: String) -> [String] {
        let parts = key.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        let name: String
        var problems: [String] = []
        switch parts.count {
        case 1: name = parts[0]
        case 2:
            name = parts[1]
            if parts[0].isEmpty { problems.append("prefix part must be non-empty") } else { problems += subdomain(parts[0]).map { "prefix part " + $0 } }
        default:
            return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        }
        if name.isEmpty { problems.append("name part must be non-empty") }
        else if name.count > 63 { problems.append("name part must be no more than 63 characters") }
        if !name.isEmpty, !matches(name, qualifiedNamePart) {
            problems.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
        }
        return problems
    }

    static func labelValue(_ value: String) -> [String] {
        var problems: [String] = []
        if value.count > 63 { problems.append("must be no more than 63 characters") }
        if !value.isEmpty, !matches(value, qualifiedNamePart) {
            problems.append("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
        }
        return problems
    }

    static func configKey(_ key: String) -> [String] {
        var problems: [String] = []
        if key.count > 253 { problems.append("must be no more than 253 characters") }
        if !matches(key, "[-._a-zA-Z0-9]+") {
            problems.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
        }
        if key == "." || key == ".." { problems.append("must not be '\(key)'") } else if key.hasPrefix("..") { problems.append("must not start with '..'") }
        return problems
    }

    /// The rule for an object's name, by kind, as each kind's validation chooses it.
    static func objectName(_ name: String, kind: String, group: String) -> [String] {
        switch (group, kind) {
        case ("", "Namespace"): label(name)
        case ("", "Service"): label1035(name)
        case ("rbac.authorization.k8s.io", _): pathSegment(name)
        case ("batch", "CronJob"): subdomain(name) + (name.count > 52 ? ["must be no more than 52 characters"] : [])
        default: subdomain(name)
        }
    }
}
