import ArgumentParser
import Foundation
import Hub
import JSON
import Scheduling

struct Schedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain sleep schedules.",
        subcommands: [Explain.self]
    )

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The next transitions of a schedule, in UTC and local time, and its state at an instant.",
            discussion: "Give a SleepInfo or hub schedule YAML file, or the fields as options."
        )

        @Argument(help: "A SleepInfo manifest, a hub schedule entry, or a clusters/<name>.yaml file (YAML).") var file: String?
        @Option(help: "With a cluster file: which of its hub schedules; with several SleepInfos: which one (name or namespace/name).") var schedule: String?
        @Option(help: "Cron day-of-week field, 0 is Sunday (e.g. 1-5).") var weekdays: String?
        @Option(help: "HOUR:MINUTE to sleep (e.g. 20:00).") var sleepAt: String?
        @Option(help: "HOUR:MINUTE to wake (e.g. 08:00).") var wakeUpAt: String?
        @Option(help: "IANA time zone (default UTC).") var timeZone: String?
        @Option(help: "Separate days for sleeping.") var sleepDays: String?
        @Option(help: "Separate days for waking.") var wakeDays: String?
        @Option(help: "The instant to explain (RFC 3339; default now).") var at: String?
        @Option(help: "How many transitions to list.") var count = 6
        @Option(name: [.short, .customLong("output")], help: "table or json.") var output: Report.Format = .table

        func run() async throws {
            let chosen: SleepSchedule
            do {
                if let file {
                    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                        printError("\(file): cannot read file")
                        throw ExitCode(1)
                    }
                    chosen = try ScheduleExplanation.schedule(fromYAML: text, source: file, name: schedule)
                } else {
                    guard let weekdays, let sleepAt else {
                        printError("give a FILE, or --weekdays and --sleep-at")
                        throw ExitCode(1)
                    }
                    chosen = try SleepSchedule(weekdays: weekdays, sleepAt: sleepAt, wakeUpAt: wakeUpAt, timeZone: timeZone, sleepDays: sleepDays, wakeDays: wakeDays)
                }
            } catch let error as ScheduleError {
                printError("\(file.map { "\($0): " } ?? "")\(error)")
                throw ExitCode(1)
            } catch let error as YAMLConversionError {
                printError("\(file ?? "-")\(error.line.map { ":\($0)" } ?? ""): \(error.reason)")
                throw ExitCode(1)
            }
            var instant = Date()
            if let at {
                guard let parsed = try? Date(at, strategy: .iso8601) else {
                    printError("--at: \"\(at)\" is not an RFC 3339 time such as 2026-12-07T20:00:00Z")
                    throw ExitCode(1)
                }
                instant = parsed
            }
            let explanation = ScheduleExplanation(schedule: chosen, at: instant, count: max(1, count))
            print(output == .table ? explanation.text : Report.render(explanation.json, as: output))
        }
    }
}
