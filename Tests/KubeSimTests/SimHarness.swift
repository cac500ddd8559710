import Foundation
import JSON
import KubeSim
import TestSupport
import Transport

/// A running simulator plus a raw HTTP client authenticated as an admin, for API-level tests
/// that must not depend on Sandman's own Kubernetes client.
struct SimHarness {
    let sim: KubeSim
    let client: HTTPClient
    let directory: TemporaryDirectory

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: JSONValue
    }

    static func start(_ configure: (inout KubeSim.Configuration) -> Void = { _ in }) async throws -> SimHarness {
        var configuration = KubeSim.Configuration()
        configure(&configuration)
        let sim = try await KubeSim.start(configuration)
        var tls = TLSConfiguration(trustRoots: Data(sim.certificateAuthority.certificatePEM.utf8))
        if configuration.tls {
            let admin = try sim.certificateAuthority.issueClientCertificate(user: "admin", groups: ["system:masters"])
            tls.clientCertificate = Data(admin.certificatePEM.utf8)
            tls.clientKey = Data(admin.privateKeyPEM.utf8)
        }
        return SimHarness(sim: sim, client: HTTPClient(configuration: .init(tls: tls)), directory: try TemporaryDirectory("kubesim"))
    }

    func stop() async {
        await sim.shutdown()
        client.shutdown()
        directory.remove()
    }

    func request(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil, contentType: String = "application/json", headers: HTTPHeaders = [:]) async throws -> Reply {
        var allHeaders = headers
        allHeaders["Content-Type"] = contentType
        allHeaders["Accept"] = allHeaders["Accept"] ?? "application/json"
        let response = try await client.send(HTTPRequest(method: method, url: sim.url + path, headers: allHeaders, body: body.map { $0.serializedData() }))
        let parsed = response.body.isEmpty ? JSONValue.null : ((try? JSONValue(parsing: response.body)) ?? .string(String(decoding: response.body, as: UTF8.self)))
        return Reply(status: response.status, headers: response.headers, body: parsed)
    }

    /// Writes a kubeconfig for `user` and returns a kubectl bound to it.
    func kubectl(user: String = "admin", groups: [String] = ["system:masters"]) throws -> Kubectl {
        let path = try directory.write("kubeconfig-\(user).yaml", try sim.kubeconfig(user: user, groups: groups))
        return try Kubectl(kubeconfig: path, cacheDirectory: directory.path + "/kube-cache-\(user)")
    }

    /// A Deployment manifest as JSON.
    static func deployment(_ name: String, namespace: String = "default", replicas: Int64 = 2, labels: [String: String] = [:]) -> JSONValue {
        [
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": .object(labels.mapValues(JSONValue.string))],
            "spec": [
                "replicas": .int(replicas),
                "selector": ["matchLabels": ["app": .string(name)]],
                "template": [
                    "metadata": ["labels": ["app": .string(name)]],
                    "spec": ["containers": [["name": "app", "image": "registry.example/app:1", "resources": ["requests": ["cpu": "100m", "memory": "128Mi"]]]]],
                ],
            ],
        ]
    }

    /// A pod template labelled `app: <app>` with one container, as workloads need one.
    static func podTemplate(app: String) -> JSONValue {
        ["metadata": ["labels": ["app": .string(app)]], "spec": ["containers": [["name": "app", "image": "registry.example/app:1"]]]]
    }

    /// Reads the lines of a watch until `count` events arrived or `timeout` passed.
    func watch(_ path: String, count: Int, timeout: Duration = .seconds(60), afterStart: @escaping @Sendable () async throws -> Void = {}) async throws -> [JSONValue] {
        let response = try await client.stream(HTTPRequest(url: sim.url + path, headers: ["Accept": "application/json"]))
        let collector = Task {
            var events: [JSONValue] = []
            for try await line in response.lines where !line.isEmpty {
                events.append(try JSONValue(parsing: line))
                if events.count >= count { break }
            }
            return events
        }
        try await afterStart()
        let timer = Task {
            try await Task.sleep(for: timeout)
            collector.cancel()
        }
        defer { timer.cancel() }
        return try await collector.value
    }
}
