import ArgumentParser
import Foundation
import Hub
import JSON

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every cluster's health and sleep state, from a running hub.",
        discussion: "Exits with 0 when every cluster is ready, 3 when one is not."
    )

    @OptionGroup var options: HubOptions

    @Flag(help: "Redraw every two seconds until interrupted.")
    var watch = false

    func run() async throws {
        let client = options.client
        repeat {
            let answer = try await calling { () async throws(HubClientError) in try await client.get("/api/v1/clusters") }
            let clusters = answer["clusters"]?.array ?? []
            // On a terminal each view replaces the last; piped, the views follow one another.
            if watch { print(isatty(STDOUT_FILENO) == 1 ? "\u{1B}[2J\u{1B}[H" : "", terminator: "") }
            switch options.output {
            case .table: print(Report.statusTable(clusters, colors: options.colors))
            case .json, .yaml: print(Report.render(answer, as: options.output))
            }
            // Piped output is buffered until exit, which a watch never reaches.
            fflush(nil)
            if !watch {
                if clusters.contains(where: { $0["ready"]?.bool != true }) { throw ExitCode(3) }
                return
            }
            try await Task.sleep(for: .seconds(2))
        } while true
    }
}
