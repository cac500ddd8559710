import ArgumentParser
import Foundation
import Store

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Copy the hub's SQLite database consistently, even while the hub runs (PostgreSQL: use pg_dump).")

    @OptionGroup var config: ConfigOption
    @Argument(help: "Where to write the copy.") var destination: String

    func run() async throws {
        let store = try await openStore(config.config)
        do {
            try await store.backup(to: destination)
        } catch let error as StoreError {
            printError("error: \(error)")
            throw ExitCode(1)
        } catch {
            printError("error: cannot write the copy to \(destination) (does its directory exist, is it writable?): \(error)")
            throw ExitCode(1)
        }
        print("database \(store.location) copied to \(destination)")
    }
}
