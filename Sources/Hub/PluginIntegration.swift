import Foundation
import JSON
import Scripting
import Synchronization

/// The Lua policy plugins as the agents' advisor.
///
/// Questions that arrive while the plugins are busy with others wait and go together, as one
/// batch per plugin (``PluginHost/decide(_:)``): the namespaces of an evaluation are asked about
/// a window at a time, and a batch spares each of them a hand-over to the plugin's thread. The
/// caller that finds nobody asking asks for everyone waiting, then hands the turn to the first
/// caller that arrived meanwhile, if any.
public final class PluginAdvisor: PolicyAdvisor {
    let host: PluginHost
    private let turn = Mutex(Turn())

    private struct Turn {
        var asking = false
        var waiting: [(question: PolicyQuestion, reply: CheckedContinuation<Reply, Never>)] = []
    }

    private enum Reply {
        case advice(PolicyAdvice)
        /// Your turn to ask, for yourself and everyone waiting.
        case ask
    }

    public init(host: PluginHost) {
        self.host = host
    }

    public func advise(_ context: JSONValue, team: String?) async -> PolicyAdvice {
        let question = PolicyQuestion(context: context, team: team)
        let reply = await withCheckedContinuation { continuation in
            let mine = turn.withLock { turn in
                guard turn.asking else {
                    turn.asking = true
                    return true
                }
                turn.waiting.append((question, continuation))
                return false
            }
            if mine { continuation.resume(returning: .ask) }
        }
        switch reply {
        case .advice(let advice): return advice
        case .ask: return await ask(for: question)
        }
    }

    /// Asks about `own` and every question waiting, answers those, then passes the turn to the
    /// first question that arrived meanwhile.
    private func ask(for own: PolicyQuestion) async -> PolicyAdvice {
        let waiting = turn.withLock { turn in
            defer { turn.waiting = [] }
            return turn.waiting
        }
        let outcomes = await host.decide([own] + waiting.map(\.question))
        for ((_, reply), outcome) in zip(waiting, outcomes.dropFirst()) {
            reply.resume(returning: .advice(PolicyAdvice(outcome)))
        }
        let next = turn.withLock { turn -> CheckedContinuation<Reply, Never>? in
            guard !turn.waiting.isEmpty else {
                turn.asking = false
                return nil
            }
            return turn.waiting.removeFirst().reply
        }
        next?.resume(returning: .ask)
        return PolicyAdvice(outcomes[0])
    }
}

extension PolicyAdvice {
    init(_ outcome: PolicyOutcome) {
        guard let decision = outcome.decision else {
            self = .noOpinion
            return
        }
        self.init(action: Action(rawValue: decision.action.rawValue), reason: decision.reason, plugin: decision.plugin)
    }
}

extension PluginHost: PluginStatusProvider {
    public func pluginStatuses() async -> JSONValue {
        ["plugins": .array(statuses().map(\.json))]
    }

    public func reloadPlugins() async -> JSONValue {
        await reload()
        return await pluginStatuses()
    }
}

extension PluginStatus {
    var json: JSONValue {
        [
            "file": .string(file), "kind": .string(kind.rawValue), "state": .string(state.rawValue),
            "version": version.map(JSONValue.string) ?? .null,
            "loadedAt": loadedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
            "loadError": loadError.map { .string($0.description) } ?? .null,
            "disabledError": disabledError.map { .string($0.description) } ?? .null,
            "lastCallError": lastCallError.map { .string($0.description) } ?? .null,
            "failures": .int(Int64(failureCount)),
            "abandonedStates": .int(Int64(abandonedStates)),
        ]
    }
}

/// Counts plugin failures in the metrics from the host's statuses, so that every kind of
/// failure (a version that does not load, a decision, command or format call that fails or
/// times out) is counted once, whoever made the call.
struct PluginMetricsSync {
    let host: PluginHost
    let metrics: HubMetrics
    let interval: Duration

    func run() async {
        var seen: [String: (load: Int, call: Int)] = [:]
        while !Task.isCancelled {
            for status in host.statuses() {
                let before = seen[status.file] ?? (0, 0)
                metrics.recordPluginFailures(plugin: status.file, kind: "load", count: status.loadFailureCount - before.load)
                metrics.recordPluginFailures(plugin: status.file, kind: "call", count: status.failureCount - before.call)
                metrics.recordPluginState(
                    plugin: status.file, serving: status.state != .failed && status.state != .disabled, current: status.state == .loaded,
                    abandonedStates: status.abandonedStates
                )
                seen[status.file] = (status.loadFailureCount, status.failureCount)
            }
            metrics.recordAbandonedPluginStates(host.abandonedStateCount.running)
            try? await Task.sleep(for: interval)
        }
    }
}
