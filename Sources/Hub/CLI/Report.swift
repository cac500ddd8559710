import Foundation
import JSON
import Scheduling

/// Text output of the CLI: tables, relative times, colours, JSON and YAML.
public enum Report {
    public enum Format: String, Sendable, CaseIterable {
        case table, json, yaml
    }

    /// `3h12m`, `45s`, `2d4h`: how far `seconds` is, roughly, for people.
    public static func relative(_ seconds: Int) -> String {
        let value = abs(seconds)
        let text: String
        switch value {
        case ..<60: text = "\(value)s"
        case ..<3600: text = "\(value / 60)m"
        case ..<86_400: text = (value % 3600) / 60 == 0 ? "\(value / 3600)h" : "\(value / 3600)h\((value % 3600) / 60)m"
        default: text = (value % 86_400) / 3600 == 0 ? "\(value / 86_400)d" : "\(value / 86_400)d\((value % 86_400) / 3600)h"
        }
        return seconds >= 0 ? "in \(text)" : "\(text) ago"
    }

    /// `Mon 20:00 UTC` within six days of `now`, else `2054-03-07 06:25 UTC`: in the viewer's
    /// time zone, which is named (`TimeText.near`).
    public static func localTime(_ text: String?, zone: TimeZone = .current, now: Date = Date()) -> String {
        guard let text, let date = try? Date(text, strategy: .iso8601) else { return "-" }
        return TimeText.near(date, zone: zone, now: now)
    }

    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0.indices.contains(column) ? visibleWidth($0[column]) : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - visibleWidth(cell) + 2)
            }.joined()
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// Width without ANSI colour codes.
    static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for character in text {
            if character == "\u{1B}" { inEscape = true; continue }
            if inEscape { if character == "m" { inEscape = false }; continue }
            width += 1
        }
        return width
    }

    public static func colored(_ text: String, _ color: Int, enabled: Bool) -> String {
        enabled ? "\u{1B}[\(color)m\(text)\u{1B}[0m" : text
    }

    public static func render(_ value: JSONValue, as format: Format) -> String {
        switch format {
        case .json, .table: return value.prettySerialized()
        case .yaml: return (try? value.yamlText()) ?? value.prettySerialized()
        }
    }

    /// `sandman status`: one line per cluster.
    public static func statusTable(_ clusters: [JSONValue], colors: Bool) -> String {
        let rows: [[String]] = clusters.map { cluster in
            let ready = cluster["ready"]?.bool == true
            let reachable = cluster["reachable"]?.bool == true
            // Before its first probe a cluster is not known to be unreachable.
            let probed = cluster["lastProbe"]?.string != nil || cluster["lastError"]?.string != nil
            let state = ready ? colored("Ready", 32, enabled: colors)
                : reachable ? colored("NotReady", 33, enabled: colors)
                : probed ? colored("Unreachable", 31, enabled: colors) : colored("Connecting", 33, enabled: colors)
            let nextText = cluster["nextTransition"].map { change($0) } ?? "-"
            let savings = cluster[path: ["savings", "week"]]?.double ?? 0
            return [
                cluster["name"]?.string ?? "?", cluster["tier"]?.string ?? "?", state, cluster["version"]?.string ?? "-",
                "\(cluster[path: ["namespaces", "asleep"]]?.int ?? 0)/\(cluster[path: ["namespaces", "managed"]]?.int ?? 0)",
                nextText, String(format: "$%.2f", savings), cluster["owner"]?.string ?? "-",
            ]
        }
        // The replica acting on each cluster, when several share them (leader election).
        let owned = clusters.contains { $0["owner"]?.string != nil }
        let header = ["CLUSTER", "TIER", "STATUS", "VERSION", "ASLEEP", "NEXT", "SAVED (7D)", "OWNER"]
        return table(owned ? header : Array(header.dropLast()), owned ? rows : rows.map { Array($0.dropLast()) })
    }

    /// A NEXT cell: `wake Thu 05:00 UTC (in 9h, override ends)`, times relative to the hub's clock.
    static func change(_ next: JSONValue, zone: TimeZone = .current) -> String {
        guard let action = next["action"]?.string, let at = next["at"]?.string else { return "-" }
        let seconds = Int(next["inSeconds"]?.int ?? 0)
        let hubNow = (try? Date(at, strategy: .iso8601))?.addingTimeInterval(-Double(seconds)) ?? Date()
        let cause = next["cause"]?.string.flatMap { $0 == "schedule" ? nil : ", \($0)" } ?? ""
        return "\(action) \(localTime(at, zone: zone, now: hubNow)) (\(relative(seconds))\(cause))"
    }

    /// An OVERRIDE cell: `wake until Tue 22:00 UTC`, `sleep until cleared`, `skip next transition`,
    /// prefixed `cluster:` for the cluster's own.
    static func override(_ item: JSONValue, zone: TimeZone = .current) -> String {
        let kind = item["kind"]?.string ?? "?"
        let scope = item["scope"] == "cluster" ? "cluster: " : ""
        if kind == "skip" { return scope + "skip next transition" }
        return scope + kind + (item["until"]?.string.map { " until \(localTime($0, zone: zone))" } ?? " until cleared")
    }

    public static func namespacesTable(_ namespaces: [JSONValue], cluster: String?, colors: Bool, zone: TimeZone = .current) -> String {
        let rows: [[String]] = namespaces.map { namespace in
            let state = namespace["state"]?.string ?? "?"
            let coloredState = state == "asleep" ? colored(state, 34, enabled: colors) : (state == "invalid" ? colored(state, 31, enabled: colors) : state)
            let grace = namespace["graceUntil"]?.string.map { "held: grace until \(localTime($0, zone: zone))" }
            let held = namespace["heldBy"].flatMap { $0 == .null ? nil : $0 }.map { "held by \($0["plugin"]?.string ?? "?")" } ?? grace
            let nextText = held ?? namespace["nextTransition"].map { change($0, zone: zone) } ?? "-"
            let overrideText = namespace["override"].flatMap { $0 == .null ? nil : $0 }.map { override($0, zone: zone) } ?? "-"
            let reason = namespace[path: ["heldBy", "reason"]]?.string
            let note = namespace["problem"]?.string ?? reason ?? ""
            return [namespace["cluster"]?.string ?? cluster ?? "", namespace["namespace"]?.string ?? "?", coloredState, namespace["unit"]?.string ?? "", nextText, overrideText, note]
        }
        return table(["CLUSTER", "NAMESPACE", "STATE", "SCHEDULE", "NEXT", "OVERRIDE", "NOTE"], rows)
    }
}
