import ArgumentParser
import Foundation
import Logging
import Store

/// `sandman migrate`: moves a SQLite hub's state into an empty PostgreSQL database.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a SQLite hub database into a new, empty PostgreSQL database.",
        discussion: """
            Copies every row in one transaction; the target is created (schema migrated) and must hold \
            no data. The password may come from SANDMAN_DATABASE_URL instead of --to.
            """
    )

    @Option(help: "The SQLite database to copy, as sqlite:PATH.") var from: String
    @Option(help: "The PostgreSQL database (postgres://user[:password]@host[:port]/database[?sslmode=...]); default SANDMAN_DATABASE_URL.")
    var to: String?

    func run() async throws {
        guard from.hasPrefix("sqlite:"), !from.dropFirst("sqlite:".count).isEmpty else {
            printError("--from: expected sqlite:PATH, got \(from)")
            throw ExitCode(64)
        }
        let path = String(from.dropFirst("sqlite:".count))
        guard FileManager.default.fileExists(atPath: path) else {
            printError("--from: no SQLite database at \(path)")
            throw ExitCode(1)
        }
        guard let url = to ?? ProcessInfo.processInfo.environment["SANDMAN_DATABASE_URL"] else {
            printError("--to: give a postgres:// URL, or set SANDMAN_DATABASE_URL")
            throw ExitCode(64)
        }
        let target: PostgresLocation
        do {
            target = try PostgresLocation(url: url)
        } catch {
            printError("--to: \(error)")
            throw ExitCode(64)
        }
        do {
            let source = try Store(path: path)
            let store = try await Store(location: .postgres(target), logger: Logger(label: "sandman.migrate"))
            let report: StoreCopyReport
            do {
                report = try await store.copyAll(from: source)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            for row in report.rows { print("\(row.table): \(row.count)") }
            print("copied \(path) to \(target)")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}
