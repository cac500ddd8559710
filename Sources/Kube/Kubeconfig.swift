import Foundation
import JSON

/// A kubeconfig file, or several merged as kubectl merges `KUBECONFIG`: the first file that
/// defines a cluster, user, context or `current-context` wins. Relative paths are resolved
/// against the directory of the file that names them.
public struct Kubeconfig: Sendable {
    public struct Cluster: Sendable, Equatable {
        public var server: String
        /// PEM bundle, from `certificate-authority-data` or the `certificate-authority` file.
        public var certificateAuthority: CertificateSource?
        public var insecureSkipTLSVerify = false
        public var tlsServerName: String?
        public var proxyURL: String?

        public init(server: String, certificateAuthority: CertificateSource? = nil, insecureSkipTLSVerify: Bool = false, tlsServerName: String? = nil, proxyURL: String? = nil) {
            self.server = server
            self.certificateAuthority = certificateAuthority
            self.insecureSkipTLSVerify = insecureSkipTLSVerify
            self.tlsServerName = tlsServerName
            self.proxyURL = proxyURL
        }
    }

    /// PEM bytes given inline or by path (read when the client is built, so errors name the file).
    public enum CertificateSource: Sendable, Equatable {
        case data(Data)
        case file(String)
    }

    public struct ExecConfig: Sendable, Equatable {
        public var apiVersion: String
        public var command: String
        public var args: [String] = []
        public var env: [(name: String, value: String)] = []
        public var provideClusterInfo = false
        public var interactiveMode: String?

        public init(apiVersion: String = "client.authentication.k8s.io/v1", command: String, args: [String] = [], env: [(name: String, value: String)] = [], provideClusterInfo: Bool = false, interactiveMode: String? = nil) {
            self.apiVersion = apiVersion
            self.command = command
            self.args = args
            self.env = env
            self.provideClusterInfo = provideClusterInfo
            self.interactiveMode = interactiveMode
        }

        public static func == (lhs: ExecConfig, rhs: ExecConfig) -> Bool {
            lhs.apiVersion == rhs.apiVersion && lhs.command == rhs.command && lhs.args == rhs.args
                && lhs.env.map { [$0.name, $0.value] } == rhs.env.map { [$0.name, $0.value] }
                && lhs.provideClusterInfo == rhs.provideClusterInfo
        }
    }

    public struct User: Sendable, Equatable {
        public var clientCertificate: CertificateSource?
        public var clientKey: CertificateSource?
        public var token: String?
        public var tokenFile: String?
        public var username: String?
        public var password: String?
        public var exec: ExecConfig?

        public init(clientCertificate: CertificateSource? = nil, clientKey: CertificateSource? = nil, token: String? = nil, tokenFile: String? = nil, username: String? = nil, password: String? = nil, exec: ExecConfig? = nil) {
            self.clientCertificate = clientCertificate
            self.clientKey = clientKey
            self.token = token
            self.tokenFile = tokenFile
            self.username = username
            self.password = password
            self.exec = exec
        }
    }

    public struct Context: Sendable, Equatable {
        public var cluster: String
        public var user: String
        public var namespace: String?

        public init(cluster: String, user: String, namespace: String? = nil) {
            self.cluster = cluster
            self.user = user
            self.namespace = namespace
        }
    }

    public var clusters: [String: Cluster] = [:]
    public var users: [String: User] = [:]
    public var contexts: [String: Context] = [:]
    public var currentContext: String?

    public init() {}

    /// Reads one kubeconfig file.
    public init(path: String) throws(KubeconfigError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw KubeconfigError(file: path, field: nil, reason: exists ? "cannot read file" : "file not found", fileMissing: !exists)
        }
        let document: JSONValue
        do {
            document = try JSONValue(yaml: text)
        } catch {
            throw KubeconfigError(file: path, field: nil, reason: "invalid YAML: \(error)")
        }
        try self.init(document: document, file: path)
    }

    /// Reads a kubeconfig given as text; relative paths resolve against `directory`.
    public init(document text: String, directory: String = FileManager.default.currentDirectoryPath) throws(KubeconfigError) {
        let document: JSONValue
        do {
            document = try JSONValue(yaml: text)
        } catch {
            throw KubeconfigError(file: nil, field: nil, reason: "invalid YAML: \(error)")
        }
        try self.init(document: document, file: directory + "/kubeconfig")
    }

    /// The kubeconfig as a file kubectl reads (JSON, which is YAML too), credentials embedded
    /// when they were given as data.
    public var yaml: String {
        func certificate(_ source: CertificateSource?, data: String, file: String) -> [String: JSONValue] {
            switch source {
            case .data(let bytes): [data: .string(bytes.base64EncodedString())]
            case .file(let path): [file: .string(path)]
            case nil: [:]
            }
        }
        let clusterEntries: [JSONValue] = clusters.keys.sorted().map { name in
            let cluster = clusters[name]!
            var entry: [String: JSONValue] = ["server": .string(cluster.server)]
            entry.merge(certificate(cluster.certificateAuthority, data: "certificate-authority-data", file: "certificate-authority")) { $1 }
            if cluster.insecureSkipTLSVerify { entry["insecure-skip-tls-verify"] = true }
            if let serverName = cluster.tlsServerName { entry["tls-server-name"] = .string(serverName) }
            if let proxy = cluster.proxyURL { entry["proxy-url"] = .string(proxy) }
            return ["name": .string(name), "cluster": .object(entry)]
        }
        let userEntries: [JSONValue] = users.keys.sorted().map { name in
            let user = users[name]!
            var entry: [String: JSONValue] = [:]
            entry.merge(certificate(user.clientCertificate, data: "client-certificate-data", file: "client-certificate")) { $1 }
            entry.merge(certificate(user.clientKey, data: "client-key-data", file: "client-key")) { $1 }
            if let token = user.token { entry["token"] = .string(token) }
            if let tokenFile = user.tokenFile { entry["tokenFile"] = .string(tokenFile) }
            if let username = user.username { entry["username"] = .string(username) }
            if let password = user.password { entry["password"] = .string(password) }
            return ["name": .string(name), "user": .object(entry)]
        }
        let contextEntries: [JSONValue] = contexts.keys.sorted().map { name in
            let context = contexts[name]!
            var entry: JSONValue = ["cluster": .string(context.cluster), "user": .string(context.user)]
            if let namespace = context.namespace { entry["namespace"] = .string(namespace) }
            return ["name": .string(name), "context": entry]
        }
        var document: JSONValue = ["apiVersion": "v1", "kind": "Config", "clusters": .array(clusterEntries), "users": .array(userEntries), "contexts": .array(contextEntries)]
        if let currentContext { document["current-context"] = .string(currentContext) }
        return document.prettySerialized() + "\n"
    }

    /// Reads and merges the files of a `KUBECONFIG` value (colon-separated); missing files are skipped
    /// as kubectl skips them, but at least one must exist.
    public init(kubeconfigList: String) throws(KubeconfigError) {
        let paths = kubeconfigList.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        var merged = Kubeconfig()
        var found = false
        for path in paths where FileManager.default.fileExists(atPath: path) {
            merged.merge(try Kubeconfig(path: path))
            found = true
        }
        guard found else { throw KubeconfigError(file: kubeconfigList, field: nil, reason: "none of the KUBECONFIG files exists") }
        self = merged
    }

    /// kubectl's default loading rules: `KUBECONFIG`, else `~/.kube/config`.
    public static func loadDefault(environment: [String: String] = ProcessInfo.processInfo.environment) throws(KubeconfigError) -> Kubeconfig {
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            return try Kubeconfig(kubeconfigList: list)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return try Kubeconfig(path: "\(home)/.kube/config")
    }

    /// Adds what `other` defines and this one does not (first definition wins).
    public mutating func merge(_ other: Kubeconfig) {
        clusters.merge(other.clusters) { mine, _ in mine }
        users.merge(other.users) { mine, _ in mine }
        contexts.merge(other.contexts) { mine, _ in mine }
        if currentContext == nil || currentContext?.isEmpty == true { currentContext = other.currentContext }
    }

    init(document: JSONValue, file: String) throws(KubeconfigError) {
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        func absolute(_ path: String) -> String {
            let expanded = (path as NSString).expandingTildeInPath
            return expanded.hasPrefix("/") ? expanded : directory.appendingPathComponent(expanded).standardizedFileURL.path
        }
        func certificate(_ entry: JSONValue, data dataKey: String, file fileKey: String, field: String) throws(KubeconfigError) -> CertificateSource? {
            if let encoded = entry[dataKey]?.string, !encoded.isEmpty {
                guard let data = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                    throw KubeconfigError(file: file, field: "\(field).\(dataKey)", reason: "not valid base64")
                }
                return .data(data)
            }
            if let path = entry[fileKey]?.string, !path.isEmpty { return .file(absolute(path)) }
            return nil
        }
        func named(_ key: String) throws(KubeconfigError) -> [(name: String, value: JSONValue, field: String)] {
            var result: [(String, JSONValue, String)] = []
            for (index, item) in (document[key]?.array ?? []).enumerated() {
                guard let name = item["name"]?.string else {
                    throw KubeconfigError(file: file, field: "\(key)[\(index)].name", reason: "required")
                }
                result.append((name, item[String(key.dropLast())] ?? .emptyObject, "\(key)[\(index)]"))
            }
            return result
        }

        for (name, entry, field) in try named("clusters") {
            guard let server = entry["server"]?.string, !server.isEmpty else {
                throw KubeconfigError(file: file, field: "\(field).cluster.server", reason: "required")
            }
            if clusters[name] != nil { continue }
            clusters[name] = Cluster(
                server: server,
                certificateAuthority: try certificate(entry, data: "certificate-authority-data", file: "certificate-authority", field: "\(field).cluster"),
                insecureSkipTLSVerify: entry["insecure-skip-tls-verify"]?.bool ?? false,
                tlsServerName: entry["tls-server-name"]?.string,
                proxyURL: entry["proxy-url"]?.string
            )
        }
        for (name, entry, field) in try named("users") where users[name] == nil {
            var user = User(
                clientCertificate: try certificate(entry, data: "client-certificate-data", file: "client-certificate", field: "\(field).user"),
                clientKey: try certificate(entry, data: "client-key-data", file: "client-key", field: "\(field).user"),
                token: entry["token"]?.string,
                tokenFile: entry["tokenFile"]?.string.map(absolute),
                username: entry["username"]?.string,
                password: entry["password"]?.string
            )
            if let exec = entry["exec"], exec != .null {
                guard let command = exec["command"]?.string, !command.isEmpty else {
                    throw KubeconfigError(file: file, field: "\(field).user.exec.command", reason: "required")
                }
                user.exec = ExecConfig(
                    apiVersion: exec["apiVersion"]?.string ?? "client.authentication.k8s.io/v1",
                    // A command with a path separator is relative to the kubeconfig, as in client-go.
                    command: command.contains("/") ? absolute(command) : command,
                    args: (exec["args"]?.array ?? []).compactMap(\.string),
                    env: (exec["env"]?.array ?? []).compactMap { item in
                        guard let name = item["name"]?.string else { return nil }
                        return (name, item["value"]?.string ?? "")
                    },
                    provideClusterInfo: exec["provideClusterInfo"]?.bool ?? false,
                    interactiveMode: exec["interactiveMode"]?.string
                )
            }
            users[name] = user
        }
        for (name, entry, field) in try named("contexts") where contexts[name] == nil {
            guard let cluster = entry["cluster"]?.string else {
                throw KubeconfigError(file: file, field: "\(field).context.cluster", reason: "required")
            }
            contexts[name] = Context(cluster: cluster, user: entry["user"]?.string ?? "", namespace: entry["namespace"]?.string)
        }
        if let current = document["current-context"]?.string, !current.isEmpty {
            currentContext = current
        }
    }

    /// The cluster, user and namespace of `context` (or the current context).
    public func access(context name: String? = nil) throws(KubeconfigError) -> ClusterAccess {
        guard let contextName = name ?? currentContext, !contextName.isEmpty else {
            throw KubeconfigError(file: nil, field: "current-context", reason: "no context given and no current-context set")
        }
        guard let context = contexts[contextName] else {
            throw KubeconfigError(file: nil, field: "contexts", reason: "context \"\(contextName)\" not found; contexts: \(contexts.keys.sorted().joined(separator: ", "))")
        }
        guard let cluster = clusters[context.cluster] else {
            throw KubeconfigError(file: nil, field: "contexts.\(contextName).cluster", reason: "cluster \"\(context.cluster)\" not found")
        }
        let user = context.user.isEmpty ? User() : users[context.user]
        guard let user else {
            throw KubeconfigError(file: nil, field: "contexts.\(contextName).user", reason: "user \"\(context.user)\" not found")
        }
        return ClusterAccess(contextName: contextName, cluster: cluster, user: user, namespace: context.namespace ?? "default")
    }
}

/// A kubeconfig that cannot be used, naming the file and field.
public struct KubeconfigError: Error, Sendable, CustomStringConvertible {
    public var file: String?
    public var field: String?
    public var reason: String
    /// The file does not exist (on this machine).
    public var fileMissing = false

    public init(file: String?, field: String?, reason: String, fileMissing: Bool = false) {
        self.file = file
        self.field = field
        self.reason = reason
        self.fileMissing = fileMissing
    }

    public var description: String {
        [file, field].compactMap { $0 }.joined(separator: ": ") + (file == nil && field == nil ? "" : ": ") + reason
    }
}
