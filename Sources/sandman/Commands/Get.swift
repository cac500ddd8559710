import ArgumentParser
import Hub
import JSON

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List things the hub manages.",
        subcommands: [Namespaces.self]
    )

    struct Namespaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Managed namespaces with their state, schedule, next transition and override.")

        @OptionGroup var options: HubOptions

        @Option(help: "Only this cluster.")
        var cluster: String?

        func run() async throws {
            let client = options.client
            var clusters: [String] = []
            if let cluster {
                clusters = [cluster]
            } else {
                let answer = try await calling { () async throws(HubClientError) in try await client.get("/api/v1/clusters") }
                clusters = (answer["clusters"]?.array ?? []).compactMap { $0["name"]?.string }
            }
            var rows: [JSONValue] = []
            for name in clusters {
                let answer = try await calling { () async throws(HubClientError) in try await client.get("/api/v1/clusters/\(name)/namespaces") }
                rows += (answer["namespaces"]?.array ?? []).map { item in
                    var item = item
                    item["cluster"] = .string(name)
                    return item
                }
            }
            switch options.output {
            case .table: print(Report.namespacesTable(rows, cluster: cluster, colors: options.colors))
            case .json, .yaml: print(Report.render(["namespaces": .array(rows)], as: options.output))
            }
        }
    }
}
