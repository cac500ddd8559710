import ArgumentParser
import Foundation

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Copy the hub's database consistently, even while the hub runs.")

    @OptionGroup var config: ConfigOption
    @Argument(help: "Where to write the copy.") var destination: String

    func run() async throws {
        let store = try openStore(config.config)
        do {
            try await store.backup(to: destination)
        } catch {
            printError("error: cannot write the copy to \(destination) (does its directory exist, is it writable?): \(error)")
            throw ExitCode(1)
        }
        print("database \(store.path) copied to \(destination)")
    }
}
