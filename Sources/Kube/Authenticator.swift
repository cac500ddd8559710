import Foundation
import JSON

/// Produces the credentials of each request for one kubeconfig user: a static or rotating
/// token, basic auth, a client certificate, or an exec credential plugin, cached until it
/// expires and refreshed after a 401.
actor Authenticator {
    /// What a request carries: an Authorization header and/or a TLS client identity.
    struct Material: Sendable, Equatable {
        var authorization: String?
        var clientCertificate: Data?
        var clientKey: Data?
    }

    private let user: Kubeconfig.User
    private let cluster: Kubeconfig.Cluster
    private let now: @Sendable () -> Date
    /// How long a token read from `tokenFile` is trusted before the file is read again.
    private let tokenFileLifetime: TimeInterval
    private var staticIdentity: (certificate: Data, key: Data)?
    private var cached: (material: Material, expires: Date?)?

    init(user: Kubeconfig.User, cluster: Kubeconfig.Cluster, tokenFileLifetime: TimeInterval = 60, now: @escaping @Sendable () -> Date = Date.init) throws(KubeError) {
        self.user = user
        self.cluster = cluster
        self.now = now
        self.tokenFileLifetime = tokenFileLifetime
        if let certificate = user.clientCertificate {
            guard let key = user.clientKey else {
                throw KubeError(reason: .configuration, message: "user has client-certificate but no client-key")
            }
            staticIdentity = (try certificate.load(field: "client-certificate"), try key.load(field: "client-key"))
        }
    }

    func material() async throws(KubeError) -> Material {
        if let cached, cached.expires.map({ $0 > now() }) ?? true {
            return cached.material
        }
        var material = Material(clientCertificate: staticIdentity?.certificate, clientKey: staticIdentity?.key)
        var expires: Date?
        if let token = user.token, !token.isEmpty {
            material.authorization = "Bearer \(token)"
        } else if let tokenFile = user.tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw KubeError(reason: .configuration, message: "tokenFile \(tokenFile) cannot be read")
            }
            material.authorization = "Bearer \(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))"
            expires = now().addingTimeInterval(tokenFileLifetime)
        } else if let exec = user.exec {
            let credential = try await ExecCredentialPlugin(config: exec, cluster: cluster).run()
            if let token = credential.token { material.authorization = "Bearer \(token)" }
            if let certificate = credential.clientCertificate, let key = credential.clientKey {
                material.clientCertificate = certificate
                material.clientKey = key
            }
            expires = credential.expiration
        } else if let username = user.username, let password = user.password {
            material.authorization = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        }
        cached = (material, expires)
        return material
    }

    /// Forgets cached credentials so the next request obtains fresh ones (after a 401).
    /// Returns false when nothing could change (static credentials), so retrying is useless.
    func invalidate() -> Bool {
        cached = nil
        return user.exec != nil || user.tokenFile != nil
    }
}

/// Runs a client-go exec credential plugin and reads the ExecCredential it prints.
struct ExecCredentialPlugin {
    struct Credential: Sendable {
        var token: String?
        var clientCertificate: Data?
        var clientKey: Data?
        var expiration: Date?
    }

    var config: Kubeconfig.ExecConfig
    var cluster: Kubeconfig.Cluster

    func run() async throws(KubeError) -> Credential {
        var spec: JSONValue = ["interactive": false]
        if config.provideClusterInfo {
            var info: JSONValue = ["server": .string(cluster.server), "insecure-skip-tls-verify": .bool(cluster.insecureSkipTLSVerify)]
            if case .data(let data) = cluster.certificateAuthority { info["certificate-authority-data"] = .string(data.base64EncodedString()) }
            if let name = cluster.tlsServerName { info["tls-server-name"] = .string(name) }
            spec["cluster"] = info
        }
        let input: JSONValue = ["apiVersion": .string(config.apiVersion), "kind": "ExecCredential", "spec": spec]
        var environment = ["KUBERNETES_EXEC_INFO": input.serialized()]
        for variable in config.env { environment[variable.name] = variable.value }

        let result: ProcessOutput
        do {
            result = try await ProcessOutput.run(config.command, arguments: config.args, environment: environment, timeout: .seconds(60))
        } catch {
            throw KubeError(reason: .configuration, message: "exec plugin \(config.command) could not run: \(error)")
        }
        guard result.status == 0 else {
            throw KubeError(reason: .configuration, message: "exec plugin \(config.command) exited with status \(result.status): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard let credential = try? JSONValue(parsing: result.stdout), credential["kind"]?.string == "ExecCredential" else {
            throw KubeError(reason: .configuration, message: "exec plugin \(config.command) did not print an ExecCredential")
        }
        let status = credential["status"] ?? .emptyObject
        let output = Credential(
            token: status["token"]?.string,
            clientCertificate: status["clientCertificateData"]?.string.map { Data($0.utf8) },
            clientKey: status["clientKeyData"]?.string.map { Data($0.utf8) },
            expiration: status["expirationTimestamp"]?.string.flatMap { try? Date($0, strategy: .iso8601) }
        )
        guard output.token != nil || (output.clientCertificate != nil && output.clientKey != nil) else {
            throw KubeError(reason: .configuration, message: "exec plugin \(config.command) returned neither a token nor a client certificate and key")
        }
        return output
    }
}
