import ArgumentParser
import Hub
import JSON

struct Operations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The newest operations, or one operation in detail.")

    @OptionGroup var options: HubOptions
    @Argument(help: "An operation id.") var id: String?
    @Option(help: "Only this cluster.") var cluster: String?

    func run() async throws {
        let client = options.client
        if let id {
            let answer = try await calling { () async throws(HubClientError) in try await client.get("/api/v1/operations/\(id)") }
            print(options.output == .table ? OperationSummary.text(answer["operation"] ?? .null) : Report.render(answer, as: options.output))
            return
        }
        let answer = try await calling { () async throws(HubClientError) in try await client.get("/api/v1/operations" + query([("cluster", cluster)])) }
        guard options.output == .table else { return print(Report.render(answer, as: options.output)) }
        let rows = (answer["operations"]?.array ?? []).map { operation -> [String] in
            [operation["id"]?.string ?? "", Report.localTime(operation["createdAt"]?.string), operation["cluster"]?.string ?? "",
             operation["action"]?.string ?? "", (operation["namespaces"]?.array ?? []).compactMap(\.string).joined(separator: ","),
             operation["state"]?.string ?? "", operation["actor"]?.string ?? "", operation["source"]?.string ?? ""]
        }
        print(Report.table(["ID", "WHEN", "CLUSTER", "ACTION", "NAMESPACES", "STATE", "ACTOR", "SOURCE"], rows))
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Who did what, newest first.")

    @OptionGroup var options: HubOptions
    @Option(help: "How far back: a duration such as 24h or an RFC 3339 time.") var since = "24h"
    @Option(help: "Only this cluster.") var cluster: String?
    @Option(help: "Only this actor.") var actor: String?

    func run() async throws {
        let client = options.client
        let path = "/api/v1/audit" + query([("since", since), ("cluster", cluster), ("actor", actor)])
        let answer = try await calling { () async throws(HubClientError) in try await client.get(path) }
        guard options.output == .table else { return print(Report.render(answer, as: options.output)) }
        let rows = (answer["entries"]?.array ?? []).map { entry -> [String] in
            [entry["at"]?.string ?? "", entry["actor"]?.string ?? "", entry["source"]?.string ?? "", entry["action"]?.string ?? "",
             [entry["cluster"]?.string, entry["namespace"]?.string].compactMap { $0 }.joined(separator: "/"), entry["result"]?.string ?? "", entry["detail"]?.string ?? ""]
        }
        print(Report.table(["AT", "ACTOR", "SOURCE", "ACTION", "TARGET", "RESULT", "DETAIL"], rows))
    }
}

struct Overrides: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Overrides in force.", subcommands: [List.self, Create.self, Delete.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the overrides in force, with the first 8 characters of their ids.")
        @OptionGroup var options: HubOptions
        @Option(help: "Only this cluster.") var cluster: String?

        func run() async throws {
            let client = options.client
            let answer = try await calling { () async throws(HubClientError) in try await client.get("/api/v1/overrides" + query([("cluster", cluster)])) }
            guard options.output == .table else { return print(Report.render(answer, as: options.output)) }
            print(Overrides.table(answer["overrides"]?.array ?? []))
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep namespaces awake or asleep, or skip their next scheduled transition, without running an operation now.",
            discussion: """
                --kind wake keeps them awake, sleep keeps them asleep (each until --until or --for, else until cleared), \
                skip swallows each namespace's next scheduled transition. A new override replaces the older ones it \
                covers; the hub then moves each namespace to the state the overrides say. Examples:
                  sandman overrides create staging payments --kind skip --reason "release tonight"
                  sandman overrides create dev --all --kind wake --for 3h
                """
        )
        @OptionGroup var options: HubOptions
        @Argument(help: "Cluster name.") var cluster: String
        @Argument(help: "Namespaces.") var namespaces: [String] = []
        @Flag(help: "Every managed namespace of the cluster, instead of naming them.") var all = false
        @Option(help: "wake (keep awake), sleep (keep asleep) or skip (the next scheduled transition).") var kind: String
        @Option(help: "Until this RFC 3339 time.") var until: String?
        @Option(name: .customLong("for"), help: "For this long, e.g. 2h.") var duration: String?
        @Option(help: "Why, for the audit trail.") var reason: String?

        func run() async throws {
            var body: JSONValue = ["cluster": .string(cluster), "kind": .string(kind)]
            if all { body["all"] = true } else { body["namespaces"] = .array(namespaces.map(JSONValue.string)) }
            if let until { body["until"] = .string(until) }
            if let duration { body["duration"] = .string(duration) }
            if let reason { body["reason"] = .string(reason) }
            let client = options.client
            let answer = try await calling { () async throws(HubClientError) in try await client.post("/api/v1/overrides", body: body) }
            guard options.output == .table else { return print(Report.render(answer, as: options.output)) }
            print(Overrides.table(answer["overrides"]?.array ?? []))
            if let operation = answer[path: ["operation", "id"]]?.string {
                print("proposed in a GitLab merge request: follow it with `sandman operations \(operation)`")
            }
        }
    }

    /// The overrides as `list` shows them, ids cut to 8 characters.
    static func table(_ overrides: [JSONValue]) -> String {
        let rows = overrides.map { item -> [String] in
            // A skip has no end of its own: it ends with the next transition of each namespace it covers.
            let until = item["kind"] == "skip" ? "next transition"
                : (item["until"]?.string == nil ? "until cleared" : Report.localTime(item["until"]?.string))
            return [String((item["id"]?.string ?? "").prefix(8)), item["cluster"]?.string ?? "", item["namespace"]?.string ?? "*",
                    item["kind"]?.string ?? "", until, item["actor"]?.string ?? "", item["reason"]?.string ?? ""]
        }
        return Report.table(["ID", "CLUSTER", "NAMESPACE", "KIND", "UNTIL", "ACTOR", "REASON"], rows)
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clear an override: the namespaces follow their schedules again.",
            discussion: "The id may be shortened to any prefix that names one override, such as the 8 characters `overrides list` shows."
        )
        @OptionGroup var options: HubOptions
        @Argument(help: "Override id, or a prefix of it naming one override.") var id: String

        func run() async throws {
            let client = options.client
            // The hub takes any unique start of an id.
            let answer = try await calling { () async throws(HubClientError) in try await client.delete("/api/v1/overrides/\(id)") }
            if let operation = answer[path: ["operation", "id"]]?.string {
                print("override \(id) is cleared through a GitLab merge request: follow it with `sandman operations \(operation)`")
            } else {
                print("override \(id) cleared")
            }
        }
    }
}
