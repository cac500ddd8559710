import Config
import Foundation
import JSON
import Kube
import Scheduling
import Sleep

/// One thing the agent puts to sleep and wakes: a namespace under one SleepInfo, or under a hub
/// schedule when it has no SleepInfo of its own.
struct ManagedUnit: Sendable {
    enum Source: Sendable {
        case sleepInfo(SleepInfo)
        case hubSchedule(ClusterConfiguration.HubSchedule)
    }

    var namespace: String
    /// The SleepInfo's name, or `hub-<schedule>`.
    var name: String
    var source: Source
    var schedule: SleepSchedule?
    var spec: SleepSpec?
    /// Why the unit cannot be acted on (a malformed SleepInfo), nil when it can.
    var problem: String?
    var team: ClusterConfiguration.Team?

    var key: String { Self.key(namespace: namespace, name: name) }

    static func key(namespace: String, name: String) -> String { "\(namespace)/\(name)" }

    var sleepInfo: SleepInfo? {
        if case .sleepInfo(let sleepInfo) = source { return sleepInfo }
        return nil
    }

    /// A SleepInfo being deleted: its namespace is woken, then the finalizer released.
    var isBeingDeleted: Bool { sleepInfo?.metadata.deletionTimestamp != nil }

    var target: SleepExecutor.Target? {
        spec.map { SleepExecutor.Target(namespace: namespace, name: name, spec: $0, sleepInfo: sleepInfo?.object) }
    }

    /// The schedule in words, for people and plugins; made once, so that the namespaces of one
    /// hub schedule share it.
    let scheduleDescription: JSONValue

    init(namespace: String, name: String, source: Source, team: ClusterConfiguration.Team?) {
        self.namespace = namespace
        self.name = name
        self.source = source
        self.team = team
        scheduleDescription = Self.describe(source)
    }

    private static func describe(_ source: Source) -> JSONValue {
        switch source {
        case .sleepInfo(let sleepInfo):
            return ["source": "SleepInfo", "name": .string(sleepInfo.name), "weekdays": .string(sleepInfo.weekdays ?? ""), "sleepAt": .string(sleepInfo.sleepAt ?? ""), "wakeUpAt": sleepInfo.wakeUpAt.map(JSONValue.string) ?? .null, "timeZone": .string(sleepInfo.timeZone ?? "UTC")]
        case .hubSchedule(let schedule):
            return ["source": "hub", "name": .string(schedule.name), "weekdays": .string(schedule.weekdays), "sleepAt": .string(schedule.sleepAt), "wakeUpAt": schedule.wakeUpAt.map(JSONValue.string) ?? .null, "timeZone": .string(schedule.timeZone)]
        }
    }

    /// The units of a cluster: every SleepInfo in a selected namespace, and the first matching
    /// hub schedule for selected namespaces without one.
    static func units(namespaces: [String], sleepInfos: [SleepInfo], configuration: ClusterConfiguration) -> [ManagedUnit] {
        var units: [ManagedUnit] = []
        let byNamespace = Dictionary(grouping: sleepInfos) { $0.namespace ?? "" }
        // A hub schedule is parsed once for all the namespaces it covers.
        var hubUnits: [String: ManagedUnit] = [:]
        for namespace in namespaces.sorted() where configuration.namespaces.selects(namespace) {
            let team = configuration.team(owning: namespace)
            if let infos = byNamespace[namespace], !infos.isEmpty {
                for info in infos.sorted(by: { $0.name < $1.name }) {
                    units.append(unit(for: info, namespace: namespace, team: team))
                }
            } else if let schedule = configuration.schedules.first(where: { $0.namespaces.matchesAny(namespace) }) {
                var unit = hubUnits[schedule.name] ?? unit(for: schedule, namespace: namespace, team: team)
                hubUnits[schedule.name] = unit
                unit.namespace = namespace
                unit.team = team
                units.append(unit)
            }
        }
        return units
    }

    static func unit(for info: SleepInfo, namespace: String, team: ClusterConfiguration.Team?) -> ManagedUnit {
        var unit = ManagedUnit(namespace: namespace, name: info.name, source: .sleepInfo(info), team: team)
        do {
            unit.schedule = try SleepSchedule(weekdays: info.weekdays ?? "", sleepAt: info.sleepAt ?? "", wakeUpAt: info.wakeUpAt, timeZone: info.timeZone)
            var spec = try SleepSpec(sleepInfo: info)
            try spec.readAnnotations(of: info)
            unit.spec = spec
        } catch let error as ScheduleError {
            unit.problem = "spec.\(error.description)"
        } catch {
            unit.problem = "\(error)"
        }
        return unit
    }

    static func unit(for schedule: ClusterConfiguration.HubSchedule, namespace: String, team: ClusterConfiguration.Team?) -> ManagedUnit {
        var unit = ManagedUnit(namespace: namespace, name: "hub-\(schedule.name)", source: .hubSchedule(schedule), team: team)
        do {
            unit.schedule = try SleepSchedule(
                weekdays: schedule.weekdays, sleepAt: schedule.sleepAt, wakeUpAt: schedule.wakeUpAt, timeZone: schedule.timeZone,
                sleepDays: schedule.sleepDays, wakeDays: schedule.wakeDays, exceptions: schedule.exceptions
            )
            unit.spec = schedule.spec
        } catch {
            unit.problem = "\(error)"
        }
        return unit
    }
}

/// What a SleepInfo asks of Sandman beyond kube-green's fields, in annotations kube-green ignores.
extension SleepSpec {
    static let downtimeReplicasAnnotation = "sandman.dev/downtime-replicas"
    static let gracePeriodAnnotation = "sandman.dev/grace-period"

    mutating func readAnnotations(of sleepInfo: SleepInfo) throws(SleepSpecError) {
        let annotations = sleepInfo.metadata.annotations
        if let text = annotations[Self.downtimeReplicasAnnotation] {
            guard let replicas = DowntimeReplicas(text) else {
                throw SleepSpecError(
                    field: "metadata.annotations[\(Self.downtimeReplicasAnnotation)]",
                    reason: "expected \(DowntimeReplicas.expected), got \"\(text)\""
                )
            }
            downtimeReplicas = replicas
        }
        if let text = annotations[Self.gracePeriodAnnotation] {
            guard let period = try? DurationText.parse(text), period >= .zero else {
                throw SleepSpecError(
                    field: "metadata.annotations[\(Self.gracePeriodAnnotation)]",
                    reason: "expected a duration such as \"15m\", got \"\(text)\""
                )
            }
            gracePeriod = period.inSeconds
        }
    }
}
