import ArgumentParser
import Foundation
import Hub
import JSON

/// `sandman sleep` and `sandman wake`: ask the hub, then follow the operation to its end.
struct SleepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sleep", abstract: "Put a cluster's namespaces (or the named ones) to sleep now; they stay asleep until --for has passed or the next scheduled wake.")

    @OptionGroup var options: HubOptions
    @OptionGroup var target: OperationTarget

    func run() async throws {
        try await requestOperation("sleep", target: target, options: options)
    }
}

struct WakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wake", abstract: "Wake a cluster's namespaces (or the named ones) now; they stay awake until --for has passed or the next scheduled sleep.")

    @OptionGroup var options: HubOptions
    @OptionGroup var target: OperationTarget

    func run() async throws {
        try await requestOperation("wake", target: target, options: options)
    }
}

/// What `sleep` and `wake` act on.
struct OperationTarget: ParsableArguments {
    @Argument(help: "Cluster name.") var cluster: String
    @Argument(help: "Namespaces.") var namespaces: [String] = []
    @Flag(help: "Every managed namespace of the cluster, instead of naming them.") var all = false
    @Option(name: .customLong("for"), help: "How long to keep them so, e.g. 2h.") var duration: String?
    @Option(help: "Why, for the audit trail.") var reason: String?
}

private func requestOperation(_ action: String, target: OperationTarget, options: HubOptions) async throws {
    let (cluster, namespaces, duration, reason) = (target.cluster, target.namespaces, target.duration, target.reason)
    let client = options.client
    var body: JSONValue = target.all ? ["all": true] : ["namespaces": .array(namespaces.map(JSONValue.string))]
    if let duration { body["duration"] = .string(duration) }
    if let reason { body["reason"] = .string(reason) }
    let answer = try await calling { () async throws(HubClientError) in try await client.post("/api/v1/clusters/\(cluster)/\(action)", body: body) }
    guard let id = answer[path: ["operation", "id"]]?.string else {
        printError("error: the hub did not return an operation")
        throw ExitCode(1)
    }
    let progress = options.output == .table && isatty(STDERR_FILENO) == 1
    if progress { FileHandle.standardError.write(Data("\(action) \(cluster): operation \(id) ".utf8)) }
    var operation = answer["operation"] ?? .null
    let deadline = ContinuousClock.now + .seconds(300)
    var reported: Set<String> = []
    var hubWaits = true
    while operation["finishedAt"] == .null || operation["finishedAt"] == nil, ContinuousClock.now < deadline {
        operation = try await calling { () async throws(HubClientError) in
            // The hub answers when the operation finishes, or after the wait with its progress.
            // One from before `wait` refuses it: ask it every tenth of a second.
            if hubWaits {
                do throws(HubClientError) {
                    return try await client.get("/api/v1/operations/\(id)?wait=\(progress ? "1s" : "10s")")
                } catch {
                    guard error.status == 400, error.field == "wait" else { throw error }
                    hubWaits = false
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
            return try await client.get("/api/v1/operations/\(id)")
        }["operation"] ?? .null
        guard progress else { continue }
        // Namespaces as they finish (operations over several), dots meanwhile.
        let parts = (operation[path: ["summary", "namespaces"]]?.object ?? [:]).filter { !reported.contains($0.key) }
        for (namespace, part) in parts.sorted(by: { $0.key < $1.key }) {
            FileHandle.standardError.write(Data("\n  \(namespace): \(OperationSummary.counts(part))".utf8))
            reported.insert(namespace)
        }
        if parts.isEmpty { FileHandle.standardError.write(Data(".".utf8)) }
    }
    if progress { FileHandle.standardError.write(Data("\n".utf8)) }
    if operation["finishedAt"] == .null || operation["finishedAt"] == nil {
        printError("error: operation \(id) still \(operation["state"]?.string ?? "running") after 5 minutes; follow it with `sandman operations \(id)`")
        throw ExitCode(1)
    }
    switch options.output {
    case .table:
        print(OperationSummary.text(operation))
    case .json, .yaml:
        print(Report.render(["operation": operation], as: options.output))
    }
    if ["failed", "partial", "superseded", "rejected"].contains(operation["state"]?.string ?? "") { throw ExitCode(1) }
}

enum OperationSummary {
    static func text(_ operation: JSONValue) -> String {
        let summary = operation["summary"] ?? .null
        let cluster = operation["cluster"]?.string ?? "?"
        let namespaces = (operation["namespaces"]?.array ?? []).compactMap(\.string)
        let target = namespaces.isEmpty ? "\(cluster) (every namespace)" : "\(cluster)/\(namespaces.joined(separator: ", "))"
        var lines = ["operation \(operation["id"]?.string ?? "?"): \(operation["action"]?.string ?? "?") \(target) \(operation["state"]?.string ?? "?")"]
        let skipped = summary["skipped"]?.array ?? []
        let failed = summary["failed"]?.array ?? []
        for stage in operation["stages"]?.array ?? [] {
            let detail = [stage["detail"]?.string, stage["namespace"]?.string.map { "(\($0))" }, stage["url"]?.string].compactMap { $0 }
            lines.append("  \(Report.localTime(stage["at"]?.string))  " + ([stage["stage"]?.string ?? "?"] + detail).joined(separator: " "))
        }
        lines.append("  " + counts(summary))
        for (namespace, part) in (summary["namespaces"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
            lines.append("  \(namespace): \(counts(part))")
        }
        for item in skipped { lines.append("  skipped \(item["object"]?.string ?? "?"): \(item["reason"]?.string ?? "")") }
        for item in failed { lines.append("  failed \(item["object"]?.string ?? "?"): \(item["error"]?.string ?? "")") }
        if let error = summary["error"]?.string { lines.append("  error: \(error)") }
        if let newer = summary["supersededBy"]?.string { lines.append("  not run: operation \(newer), asked later the other way, replaced it") }
        return lines.joined(separator: "\n")
    }

    static func counts(_ summary: JSONValue) -> String {
        let done = summary["done"]?.array?.count ?? 0
        return "\(done) object(s) done, \(summary["skipped"]?.array?.count ?? 0) skipped, \(summary["failed"]?.array?.count ?? 0) failed"
    }
}
