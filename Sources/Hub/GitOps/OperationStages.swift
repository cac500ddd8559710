import Foundation
import JSON
import Store

/// The stages a GitOps request went through, kept on its operation (`stages`, a JSON array) for
/// the API, `sandman operations ID` and Slack: `mr_opened !42`, `merged abc1234`, `synced`, `done`.
enum OperationStages {
    /// `stored` with one more stage.
    static func appending(_ stage: String, namespace: String?, detail: String?, url: String? = nil, at time: Date, to stored: String?) -> String {
        var stages = list(stored)
        var entry: JSONValue = ["stage": .string(stage), "at": .string(time.formatted(.iso8601))]
        if let namespace { entry["namespace"] = .string(namespace) }
        if let detail { entry["detail"] = .string(detail) }
        if let url { entry["url"] = .string(url) }
        stages.append(entry)
        return JSONValue.array(stages).serialized()
    }

    static func list(_ stored: String?) -> [JSONValue] {
        stored.flatMap { try? JSONValue(parsing: Data($0.utf8)) }?.array ?? []
    }

    /// `mr_opened !42 (payments)`, for people.
    static func text(_ entry: JSONValue) -> String {
        [entry["stage"]?.string, entry["detail"]?.string, entry["namespace"]?.string.map { "(\($0))" }].compactMap { $0 }.joined(separator: " ")
    }
}

extension OperationRecord {
    /// Adds a stage to a GitOps operation.
    mutating func addStage(_ stage: String, namespace: String?, detail: String?, url: String? = nil, at time: Date) {
        stages = OperationStages.appending(stage, namespace: namespace, detail: detail, url: url, at: time, to: stages)
    }
}
