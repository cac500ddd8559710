import ArgumentParser
import Foundation
import Hub

/// How to reach a running hub: `--hub`/`SANDMAN_HUB` and `--token`/`SANDMAN_TOKEN`.
struct HubOptions: ParsableArguments {
    @Option(help: "Hub URL (default: $SANDMAN_HUB, or http://127.0.0.1:8080).")
    var hub: String?

    @Option(help: "API token (default: $SANDMAN_TOKEN).")
    var token: String?

    @Option(name: [.short, .customLong("output")], help: "Output format: table, json or yaml.")
    var output: Report.Format = .table

    var client: HubClient {
        let environment = ProcessInfo.processInfo.environment
        return HubClient(baseURL: hub ?? environment["SANDMAN_HUB"] ?? "http://127.0.0.1:8080", token: token ?? environment["SANDMAN_TOKEN"])
    }

    var colors: Bool { isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil }
}

extension Report.Format: ExpressibleByArgument {}

/// `?a=1&b=2` from the fields that are set, percent-encoded; empty when none is.
func query(_ fields: [(String, String?)]) -> String {
    let set = fields.compactMap { name, value in value.map { (name, $0) } }
    return set.isEmpty ? "" : "?" + String(decoding: FormBody.encode(set), as: UTF8.self)
}

/// Runs a hub call, turning its errors into a message and exit status 1.
func calling<T>(_ body: () async throws(HubClientError) -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}
