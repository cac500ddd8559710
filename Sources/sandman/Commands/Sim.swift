import ArgumentParser
import Foundation
import KubeSim
import Logging
import UnixSignals

struct Sim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run a simulated Kubernetes API server (KubeSim) usable with kubectl.",
        discussion: """
            Serves HTTPS with its own CA and client-certificate authentication, loads the fixtures \
            (multi-document YAML) and writes a kubeconfig for kubectl. See docs/kubesim.md.
            """,
        subcommands: [SimGitLab.self, SimArgoCD.self, SimAll.self]
    )

    @Option(help: "Directory of YAML manifests to load at start.")
    var fixtures: String?

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 0

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Where to write the kubeconfig.")
    var kubeconfig: String = "kubesim.kubeconfig"

    @Flag(help: "Serve plain HTTP instead of HTTPS.")
    var http = false

    @Option(help: "Delay before workloads report their new replica count ready, e.g. 2s.")
    var readyDelay: Double = 0

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        global.bootstrapLogging()
        var configuration = KubeSim.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.tls = !http
        configuration.workloadReadyDelay = .milliseconds(Int64(readyDelay * 1000))
        let sim = try await KubeSim.start(configuration)
        if let fixtures {
            do {
                try await sim.load(directory: fixtures)
            } catch {
                await sim.shutdown()
                printError("\(error)")
                throw ExitCode(1)
            }
        }
        try sim.kubeconfig(user: "admin").write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        print("KubeSim serving \(sim.url)")
        print("kubeconfig: \(URL(fileURLWithPath: kubeconfig).standardizedFileURL.path)")
        print("try: kubectl --kubeconfig \(kubeconfig) get namespaces")
        print("Ctrl-C stops it.")
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        await sim.shutdown()
    }
}
