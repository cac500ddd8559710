import ArgumentParser
import Foundation
import JSON
import KubeSim
import Logging
import Scheduling
import UnixSignals

struct Sim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run a simulated Kubernetes API server (KubeSim) usable with kubectl.",
        discussion: """
            Serves HTTPS with its own CA and client-certificate authentication (or plain HTTP, where \
            requests without credentials are let in), loads the SleepInfo CRD and the fixtures (multi-document YAML) and writes a \
            kubeconfig for kubectl. Faults can be set at start or changed while running through \
            PUT /kubesim/faults; request counts are at GET /kubesim/requests. See docs/kubesim.md.
            """,
        subcommands: [SimGitLab.self, SimArgoCD.self, SimAll.self]
    )

    @Option(help: "Directory of YAML manifests to load at start (repeatable).")
    var fixtures: [String] = []

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 0

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Where to write the kubeconfig.")
    var kubeconfig: String = "kubesim.kubeconfig"

    @Flag(help: "Serve plain HTTP; requests without credentials are let in (kubectl sends none over HTTP).")
    var http = false

    @Option(help: "Delay before workloads report their new replicas ready, e.g. 2s.")
    var readyDelay: String = "0s"

    @Option(help: "The Kubernetes version /version reports, e.g. v1.31.4.")
    var kubernetesVersion: String?

    @Flag(help: "Do not load the CRDs Sandman ships (SleepInfo).")
    var withoutBundledCrds = false

    @Option(help: "Latency added to every API request, e.g. 10ms.")
    var latency: String = "0s"

    @Option(help: "Server-side rate limit in requests per second; above it requests get 429 with Retry-After.")
    var rateLimit: Double?

    @Option(help: "Burst of the rate limit (default: the rate, at least 1).")
    var burst: Int?

    @Option(help: "Share of API requests answered 500, from 0 to 1.")
    var errorRate: Double = 0

    @Option(help: "Share of API requests whose connection is cut mid-answer, from 0 to 1.")
    var dropRate: Double = 0

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        for directory in fixtures {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--fixtures \(directory): no such directory")
            }
        }
        _ = try simConfiguration()
    }

    /// The simulator's configuration from the options; a bad value names its option.
    private func simConfiguration() throws -> KubeSim.Configuration {
        var configuration = KubeSim.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.tls = !http
        configuration.workloadReadyDelay = try duration(readyDelay, option: "--ready-delay")
        if let kubernetesVersion {
            guard kubernetesVersion.range(of: #"^v1\.\d+\.\d+"#, options: .regularExpression) != nil else {
                throw ValidationError("--kubernetes-version \(kubernetesVersion): expected a version like v1.32.4")
            }
            configuration.gitVersion = kubernetesVersion
        }
        var faults: JSONValue = [
            "latencyMilliseconds": .double(try duration(latency, option: "--latency").inSeconds * 1000),
            "errorRate": .double(errorRate), "dropRate": .double(dropRate),
        ]
        if let rateLimit { faults["rateLimit"] = ["qps": .double(rateLimit), "burst": .int(Int64(burst ?? max(1, Int(rateLimit.rounded()))))] }
        do {
            configuration.faults = try KubeSim.Faults(json: faults)
        } catch {
            throw ValidationError("--\(Self.optionName(error.field)): \(error.reason)")
        }
        return configuration
    }

    private static func optionName(_ field: String) -> String {
        switch field {
        case "rateLimit.qps": "rate-limit"
        case "rateLimit.burst": "burst"
        case "errorRate": "error-rate"
        case "dropRate": "drop-rate"
        default: "latency"
        }
    }

    private func duration(_ text: String, option: String) throws -> Duration {
        do {
            return try DurationText.parse(text)
        } catch {
            throw ValidationError("\(option): \(error)")
        }
    }

    func run() async throws {
        global.bootstrapLogging()
        var configuration = try simConfiguration()
        // Over plain HTTP kubectl sends no credentials (client-go keeps tokens off insecure
        // connections), as against the old insecure port: requests without any are let in; the
        // kubeconfig still carries a token for clients that do send one.
        let token = configuration.tls ? nil : UUID().uuidString.lowercased()
        if let token {
            configuration.tokens[token] = "admin"
            configuration.allowAnonymous = true
        }
        let sim = try await KubeSim.start(configuration)
        do {
            if !withoutBundledCrds { try await sim.loadBundledCustomResourceDefinitions() }
            for directory in fixtures { try await sim.load(directory: directory) }
        } catch {
            await sim.shutdown()
            printError("\(error)")
            throw ExitCode(1)
        }
        let text = try token.map { sim.kubeconfig(token: $0, userName: "admin") } ?? sim.kubeconfig(user: "admin")
        try text.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        // Written unbuffered, so that it shows at once when stdout is a file.
        let lines = [
            "KubeSim serving \(sim.url) (Kubernetes \(configuration.gitVersion))",
            "kubeconfig: \(URL(fileURLWithPath: kubeconfig).standardizedFileURL.path)",
            "try: kubectl --kubeconfig \(kubeconfig) get namespaces",
            "faults: \(sim.url)/kubesim/faults, request counts: \(sim.url)/kubesim/requests",
            "Ctrl-C stops it.",
        ]
        FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8))
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        await sim.shutdown()
    }
}
