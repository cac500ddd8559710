import Foundation
import Hummingbird
import JSON
import NIOCore

/// `/kubesim/...`: the simulator's own control surface, open to anyone, for benchmarks and tests
/// that drive `sandman sim` from another process. Not part of the Kubernetes API: these requests
/// skip authentication, faults and the request log.
///
/// - `GET /kubesim/requests`: `{"total": N, "counts": {"list deployments.apps": 3, ...}}`;
///   `?log=true` adds every request; `DELETE` empties the log.
/// - `GET /kubesim/faults`, `PUT /kubesim/faults` with
///   `{"latencyMilliseconds": 10, "rateLimit": {"qps": 100, "burst": 100}, "errorRate": 0.01, "dropRate": 0}`.
struct ControlEndpoint {
    static let prefix = "/kubesim/"
    let state: SimulatorState

    func respond(to request: Request) async -> Response {
        switch (request.uri.path, request.method) {
        case ("/kubesim/requests", .get):
            let records = state.requests.withLock { $0 }
            var counts: [String: JSONValue] = [:]
            for record in records { counts["\(record.verb) \(record.resource)", default: 0] = .int((counts["\(record.verb) \(record.resource)"]?.int ?? 0) + 1) }
            var body: JSONValue = ["total": .int(Int64(records.count)), "counts": .object(counts)]
            if QueryParameters(request.uri.query).flag("log") {
                body["log"] = .array(records.map(\.json))
            }
            return APIServer.json(body)
        case ("/kubesim/requests", .delete):
            state.requests.withLock { $0.removeAll() }
            return APIServer.json(["total": 0, "counts": .emptyObject])
        case ("/kubesim/faults", .get):
            return APIServer.json(state.faults.withLock { $0 }.json)
        case ("/kubesim/faults", .put), ("/kubesim/faults", .post):
            do {
                var buffer = try await request.body.collect(upTo: 1 << 16)
                let body = try JSONValue(parsing: Data(buffer.readBytes(length: buffer.readableBytes) ?? []))
                let faults = try KubeSim.Faults(json: body)
                state.setFaults(faults)
                return APIServer.json(faults.json)
            } catch {
                return APIServer.json(APIError.badRequest("invalid faults: \(error)").status, status: 400)
            }
        default:
            return APIServer.json(APIError.pathNotFound(request.uri.path).status, status: 404)
        }
    }
}

extension KubeSim.RequestRecord {
    var json: JSONValue {
        [
            "time": .string(Timestamp.formatWithMilliseconds(time)), "method": .string(method), "verb": .string(verb),
            "resource": .string(resource), "path": .string(path), "user": .string(user), "status": .int(Int64(status)),
        ]
    }
}

/// A fault setting that cannot be used, naming the field.
public struct FaultsError: Error, CustomStringConvertible {
    public var field: String
    public var reason: String
    public var description: String { "\(field): \(reason)" }
}

extension KubeSim.Faults {
    var json: JSONValue {
        var value: JSONValue = [
            "latencyMilliseconds": .int(Int64(latency.inSeconds * 1000)), "errorRate": .double(errorRate), "dropRate": .double(dropRate),
        ]
        if let rateLimit {
            value["rateLimit"] = ["qps": .double(rateLimit.qps), "burst": .int(Int64(rateLimit.burst)), "retryAfterSeconds": .int(Int64(rateLimit.retryAfterSeconds))]
        }
        for (field, names) in [("errorVerbs", errorVerbs), ("errorResources", errorResources), ("errorUsers", errorUsers)] {
            if let names { value[field] = .array(names.sorted().map(JSONValue.string)) }
        }
        value["errorStatus"] = .int(Int64(errorStatus))
        return value
    }

    /// Reads the JSON form; unknown fields and out-of-range values are errors naming the field.
    public init(json: JSONValue) throws(FaultsError) {
        self.init()
        guard case .object(let members) = json else { throw FaultsError(field: "faults", reason: "must be an object") }
        let known: Set<String> = ["latencyMilliseconds", "rateLimit", "errorRate", "errorVerbs", "errorResources", "errorUsers", "errorStatus", "dropRate"]
        if let unknown = members.keys.sorted().first(where: { !known.contains($0) }) {
            throw FaultsError(field: unknown, reason: "unknown field (known: \(known.sorted().joined(separator: ", ")))")
        }
        if let value = members["latencyMilliseconds"] {
            guard let milliseconds = value.double, milliseconds >= 0 else { throw FaultsError(field: "latencyMilliseconds", reason: "must be a number >= 0") }
            latency = .milliseconds(Int64(milliseconds))
        }
        for field in ["errorRate", "dropRate"] {
            guard let value = members[field] else { continue }
            guard let rate = value.double, (0...1).contains(rate) else { throw FaultsError(field: field, reason: "must be a number from 0 to 1") }
            if field == "errorRate" { errorRate = rate } else { dropRate = rate }
        }
        if let value = members["errorStatus"] {
            guard let status = value.int.map(Int.init), Self.errorStatuses.contains(status) else {
                throw FaultsError(field: "errorStatus", reason: "must be one of \(Self.errorStatuses.map(String.init).joined(separator: ", "))")
            }
            errorStatus = status
        }
        for (field, what) in [("errorVerbs", "verbs"), ("errorResources", "resources"), ("errorUsers", "user names")] {
            guard let value = members[field] else { continue }
            guard let list = value.array?.compactMap(\.string), list.count == value.array?.count else {
                throw FaultsError(field: field, reason: "must be a list of \(what)")
            }
            switch field {
            case "errorVerbs": errorVerbs = Set(list)
            case "errorResources": errorResources = Set(list)
            default: errorUsers = Set(list)
            }
        }
        if let limit = members["rateLimit"], limit != .null {
            guard let qps = limit["qps"]?.double, qps > 0 else { throw FaultsError(field: "rateLimit.qps", reason: "must be a number > 0") }
            let burst = limit["burst"]?.int ?? Int64(max(1, qps.rounded()))
            guard burst >= 1 else { throw FaultsError(field: "rateLimit.burst", reason: "must be >= 1") }
            rateLimit = RateLimit(qps: qps, burst: Int(burst), retryAfterSeconds: Int(limit["retryAfterSeconds"]?.int ?? 1))
        }
    }
}
