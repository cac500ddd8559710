import JSON
import Synchronization

/// Warnings a request collects for its answer's `Warning` headers.
final class WarningSink: Sendable {
    private let messages = Mutex<[String]>([])

    func add(_ message: String) {
        messages.withLock { if !$0.contains(message) { $0.append(message) } }
    }

    var all: [String] { messages.withLock { $0 } }
}

extension ObjectStore {
    /// What kube-apiserver does to every written object before storing it: decode it against the
    /// kind's schema (wrong types refused, unknown fields dropped and, under `Strict`, refused),
    /// fill in defaults, and validate (422 with every problem found).
    func admit(_ type: ResourceType, _ candidate: JSONValue, old: JSONValue?, context: WriteContext) throws(APIError) -> JSONValue {
        var object = candidate
        let name = object[path: ["metadata", "name"]]?.string ?? ""
        if let schema = type.schema {
            var decoder = ObjectDecoder(builtIn: type.builtIn)
            object = decoder.decode(object: object, schema: schema)
            if let error = decoder.decodeError { throw .undecodable(type, error) }
            let unknown = decoder.unknownFields.map { "unknown field \"\($0)\"" }
            if !unknown.isEmpty {
                switch context.fieldValidation {
                case .strict: throw .undecodable(type, "strict decoding error: " + unknown.joined(separator: ", "))
                case .warn: for message in unknown { context.warnings?.add(message) }
                case .ignore: break
                }
            }
            if !decoder.errors.isEmpty { throw .invalid(type, name, causes: decoder.errors) }
        }
        Defaulting.apply(type, to: &object)
        let errors = ObjectValidation.errors(type, object, old: old)
        if !errors.isEmpty { throw .invalid(type, name, causes: errors) }
        return object
    }
}
