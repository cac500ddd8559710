import Foundation
import JSON
import Scheduling

/// `sandman schedule explain`: the next transitions of a schedule and its state at an instant.
public struct ScheduleExplanation: Sendable {
    public var schedule: SleepSchedule
    public var at: Date
    public var transitions: [Transition]

    public init(schedule: SleepSchedule, at: Date, count: Int) {
        self.schedule = schedule
        self.at = at
        self.transitions = schedule.transitions(after: at, count: count)
    }

    /// The schedule of a SleepInfo manifest (one of several documents: `name` picks a SleepInfo
    /// by name or namespace/name when there are several), a hub schedule entry, or the hub
    /// schedule `name` of a `clusters/<name>.yaml` file (its only one when `name` is nil).
    public static func schedule(fromYAML text: String, source: String, name: String? = nil) throws -> SleepSchedule {
        let documents = try JSONValue.documents(yaml: text)
        let sleepInfos = documents.filter { $0["kind"]?.string == "SleepInfo" }
        let document: JSONValue
        if documents.count > 1 {
            let label = { (info: JSONValue) in
                [info[path: ["metadata", "namespace"]]?.string, info[path: ["metadata", "name"]]?.string].compactMap { $0 }.joined(separator: "/")
            }
            let labels = sleepInfos.map(label).joined(separator: ", ")
            if let name {
                let chosen = sleepInfos.first { label($0) == name || $0[path: ["metadata", "name"]]?.string == name }
                guard let chosen else {
                    throw ScheduleError(field: "--schedule", value: name, reason: "no such SleepInfo in the file; SleepInfos: \(labels)")
                }
                document = chosen
            } else if sleepInfos.count == 1 {
                document = sleepInfos[0]
            } else {
                throw ScheduleError(
                    field: "--schedule", value: "",
                    reason: sleepInfos.isEmpty ? "the file has \(documents.count) documents and no SleepInfo"
                        : "the file has \(sleepInfos.count) SleepInfos; choose one: \(labels)"
                )
            }
        } else {
            document = documents.first ?? .null
        }
        var spec = document["kind"]?.string == "SleepInfo" ? (document["spec"] ?? .emptyObject) : document
        if let schedules = document["schedules"]?.array {
            let names = schedules.compactMap { $0["name"]?.string }
            if let name {
                guard let chosen = schedules.first(where: { $0["name"]?.string == name }) else {
                    throw ScheduleError(field: "--schedule", value: name, reason: "no such hub schedule in the file; schedules: \(names.joined(separator: ", "))")
                }
                spec = chosen
            } else if schedules.count == 1 {
                spec = schedules[0]
            } else {
                throw ScheduleError(field: "--schedule", value: "", reason: "the file has \(schedules.count) hub schedules; choose one: \(names.joined(separator: ", "))")
            }
        }
        guard let weekdays = spec["weekdays"]?.string, let sleepAt = spec["sleepAt"]?.string else {
            throw ScheduleError(field: "weekdays/sleepAt", value: source, reason: "a SleepInfo or hub schedule needs weekdays and sleepAt")
        }
        return try SleepSchedule(
            weekdays: weekdays, sleepAt: sleepAt, wakeUpAt: spec["wakeUpAt"]?.string, timeZone: spec["timeZone"]?.string,
            sleepDays: spec["sleepDays"]?.string, wakeDays: spec["wakeDays"]?.string,
            exceptions: (spec["exceptions"]?.array ?? []).compactMap(\.string)
        )
    }

    public var isAsleep: Bool { schedule.isAsleep(at: at) }

    private func local(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = schedule.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let offset = schedule.timeZone.secondsFromGMT(for: date)
        let sign = offset < 0 ? "-" : "+"
        return String(format: "%@ %04d-%02d-%02d %02d:%02d %@%02d:%02d", days[(parts.weekday ?? 1) - 1], parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0, sign, abs(offset) / 3600, abs(offset) % 3600 / 60)
    }

    public var json: JSONValue {
        let latest = schedule.latestTransition(atOrBefore: at)
        return [
            "at": .string(at.formatted(.iso8601)), "timeZone": .string(schedule.timeZone.identifier),
            "state": .string(isAsleep ? "asleep" : "awake"),
            "since": latest.map { .string($0.at.formatted(.iso8601)) } ?? .null,
            "transitions": .array(transitions.map { ["action": .string($0.kind.rawValue), "utc": .string($0.at.formatted(.iso8601)), "local": .string(local($0.at))] }),
        ]
    }

    public var text: String {
        let latest = schedule.latestTransition(atOrBefore: at)
        var lines = ["at \(at.formatted(.iso8601)) (\(local(at)) \(schedule.timeZone.identifier)): \(isAsleep ? "asleep" : "awake")" + (latest.map { " since \($0.kind.rawValue) at \(local($0.at))" } ?? "")]
        lines.append(Report.table(["ACTION", "UTC", "LOCAL (\(schedule.timeZone.identifier))"], transitions.map { [$0.kind.rawValue, $0.at.formatted(.iso8601), local($0.at)] }))
        return lines.joined(separator: "\n")
    }
}
