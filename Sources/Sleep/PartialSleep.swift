import Foundation
import JSON
import Scheduling

/// The PodDisruptionBudgets of a namespace, as a partial sleep reads them: the fewest replicas
/// of a workload that keep every budget selecting its pods satisfied.
public struct DisruptionBudgets: Sendable {
    private let budgets: [JSONValue]

    public init(_ budgets: [JSONValue]) {
        self.budgets = budgets
    }

    /// The floor the budgets put under a workload that has `replicas`, and the budget that sets
    /// it; nil when no budget selects its pods. Percentages round up, as the disruption
    /// controller rounds them.
    public func floor(for workload: JSONValue, replicas: Int) -> (replicas: Int, budget: String)? {
        let labels = (workload[path: ["spec", "template", "metadata", "labels"]]?.object ?? [:]).compactMapValues(\.string)
        var result: (replicas: Int, budget: String)?
        for budget in budgets {
            // policy/v1: no selector selects no pod, an empty one every pod.
            guard let selector = budget[path: ["spec", "selector"]], LabelSelector.matches(selector, labels: labels) else {
                continue
            }
            let floor: Int
            if let minimum = budget[path: ["spec", "minAvailable"]] {
                floor = Self.scaled(minimum, of: replicas)
            } else if let maximum = budget[path: ["spec", "maxUnavailable"]] {
                floor = replicas - Self.scaled(maximum, of: replicas)
            } else {
                continue
            }
            let name = budget[path: ["metadata", "name"]]?.string ?? "?"
            if floor > result?.replicas ?? Int.min { result = (min(max(floor, 0), replicas), name) }
        }
        return result
    }

    /// An IntOrString: a number, or a percentage of `total` rounded up.
    private static func scaled(_ value: JSONValue, of total: Int) -> Int {
        if let number = value.int { return Int(number) }
        guard let text = value.string, text.hasSuffix("%"), let share = Int(text.dropLast()) else { return total }
        return (total * share + 99) / 100
    }
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`) against a set of labels.
enum LabelSelector {
    static func matches(_ selector: JSONValue, labels: [String: String]) -> Bool {
        for (key, value) in selector["matchLabels"]?.object ?? [:] where labels[key] != value.string {
            return false
        }
        for expression in selector["matchExpressions"]?.array ?? [] {
            let key = expression["key"]?.string ?? ""
            let values = Set((expression["values"]?.array ?? []).compactMap(\.string))
            let matched = switch expression["operator"]?.string {
            case "In": labels[key].map(values.contains) ?? false
            case "NotIn": labels[key].map { !values.contains($0) } ?? true
            case "Exists": labels[key] != nil
            case "DoesNotExist": labels[key] == nil
            default: false
            }
            if !matched { return false }
        }
        return true
    }
}
