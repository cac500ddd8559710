import Foundation
import JSON

/// Reads request bodies sent as `application/vnd.kubernetes.protobuf` (kubectl 1.32+ for
/// `kubectl create`, controller-runtime and client-go for built-in kinds): the `k8s\0` envelope
/// (`runtime.Unknown`) around the object's message, turned into the JSON object the rest of
/// the server works on. Field numbers and types come from the messages in
/// `Generated/ProtobufMessages.swift`; the Go types with their own JSON form (Time, Quantity,
/// IntOrString, RawExtension, FieldsV1) are converted as kube-apiserver prints them.
enum ProtobufMessages {
    struct Field: Sendable {
        var number: Int
        /// Empty for an embedded struct whose fields are inline in JSON.
        var jsonName: String
        var type: String
        var repeated: Bool
    }

    static let messages: [String: [Int: Field]] = {
        guard case .object(let table) = (try? JSONValue(parsing: document)) ?? .null else { return [:] }
        return table.mapValues { rows in
            var fields: [Int: Field] = [:]
            for row in rows.array ?? [] {
                guard let items = row.array, items.count == 4, let number = items[0].int else { continue }
                fields[Int(number)] = Field(number: Int(number), jsonName: items[1].string ?? "", type: items[2].string ?? "", repeated: items[3].bool ?? false)
            }
            return fields
        }
    }()
}

struct ProtobufDecoder {
    static let contentType = "application/vnd.kubernetes.protobuf"
    private static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    /// Fields whose zero value is meaningful (Go pointers): kept even when zero.
    private static let pointerFields: Set<String> = [
        "replicas", "suspend", "parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished",
        "startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "revisionHistoryLimit",
        "progressDeadlineSeconds", "terminationGracePeriodSeconds", "automountServiceAccountToken", "enableServiceLinks",
        "immutable", "optional", "defaultMode", "mode", "runAsUser", "runAsGroup", "runAsNonRoot", "privileged",
        "allowPrivilegeEscalation", "readOnlyRootFilesystem", "fsGroup", "deletionGracePeriodSeconds", "controller",
        "blockOwnerDeletion", "minReplicas", "priority", "hostUsers", "shareProcessNamespace", "setHostnameAsFQDN",
        "allowVolumeExpansion", "expirationSeconds", "partition", "globalDefault",
    ]

    enum Failure: Error, CustomStringConvertible {
        case notAnEnvelope
        case truncated
        case unsupportedKind(String)

        var description: String {
            switch self {
            case .notAnEnvelope: "provided object is not a Kubernetes protobuf envelope"
            case .truncated: "unexpected EOF"
            case .unsupportedKind(let kind): "no protobuf message is known for \(kind)"
            }
        }
    }

    /// The JSON object of an enveloped protobuf body for `type`.
    static func decode(_ data: Data, type: ResourceType) throws(Failure) -> JSONValue {
        let bytes = [UInt8](data)
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else { throw .notAnEnvelope }
        var reader = Reader(bytes: bytes[4...])
        var raw: ArraySlice<UInt8> = []
        var apiVersion = "", kind = ""
        while let (number, wire) = try reader.key() {
            switch (number, wire) {
            case (1, 2):
                var typeMeta = Reader(bytes: try reader.lengthDelimited())
                while let (field, fieldWire) = try typeMeta.key() {
                    if fieldWire == 2, field == 1 { apiVersion = String(decoding: try typeMeta.lengthDelimited(), as: UTF8.self) }
                    else if fieldWire == 2, field == 2 { kind = String(decoding: try typeMeta.lengthDelimited(), as: UTF8.self) }
                    else { try typeMeta.skip(fieldWire) }
                }
            case (2, 2): raw = try reader.lengthDelimited()
            default: try reader.skip(wire)
            }
        }
        guard let definition = BuiltInSchemas.rootNames["\(type.group)/\(type.version)/\(type.kind)"] else {
            throw .unsupportedKind(type.kind)
        }
        let message = definition.replacingOccurrences(of: "io.k8s.", with: "k8s.io.", options: .anchored)
        guard ProtobufMessages.messages[message] != nil else { throw .unsupportedKind(type.kind) }
        var object = try decodeMessage(raw, name: message)
        if !apiVersion.isEmpty { object["apiVersion"] = .string(apiVersion) }
        if !kind.isEmpty { object["kind"] = .string(kind) }
        return object
    }

    private static func decodeMessage(_ bytes: ArraySlice<UInt8>, name: String) throws(Failure) -> JSONValue {
        switch name {
        case "k8s.io.apimachinery.pkg.apis.meta.v1.Time", "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime":
            var seconds: Int64 = 0, nanos: Int64 = 0
            var reader = Reader(bytes: bytes)
            while let (number, wire) = try reader.key() {
                if wire == 0, number == 1 { seconds = Int64(bitPattern: try reader.varint()) }
                else if wire == 0, number == 2 { nanos = Int64(bitPattern: try reader.varint()) }
                else { try reader.skip(wire) }
            }
            if seconds == 0, nanos == 0 { return .null }
            let date = Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1e9)
            return .string(name.hasSuffix("MicroTime") ? date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)) : Timestamp.format(date))
        default:
            break
        }
        let fields = ProtobufMessages.messages[name] ?? [:]
        var members: [String: JSONValue] = [:]
        var reader = Reader(bytes: bytes)
        while let (number, wire) = try reader.key() {
            guard let field = fields[number] else {
                try reader.skip(wire)
                continue
            }
            if field.repeated, wire == 2, let scalar = Self.packable(field.type) {
                var packed = Reader(bytes: try reader.lengthDelimited())
                while !packed.atEnd {
                    let value = try packed.scalar(scalar, wire: scalar == "double" ? 1 : (scalar == "float" ? 5 : 0))
                    members[field.jsonName, default: .array([])] = .array((members[field.jsonName]?.array ?? []) + [value])
                }
                continue
            }
            let value = try decodeValue(&reader, type: field.type, wire: wire)
            if field.jsonName.isEmpty, case .object(let inline) = value {
                members.merge(inline) { _, new in new }
            } else if field.type.hasPrefix("map:") {
                if case .object(let entry) = value, let key = entry["key"]?.string {
                    members[field.jsonName, default: .emptyObject][key] = entry["value"] ?? .string("")
                }
            } else if field.repeated {
                members[field.jsonName] = .array((members[field.jsonName]?.array ?? []) + [value])
            } else {
                members[field.jsonName] = value
            }
        }
        return special(name, members: members)
    }

    /// The Go types that have their own JSON form; other messages are objects without zero values.
    private static func special(_ name: String, members: [String: JSONValue]) -> JSONValue {
        switch name {
        case "k8s.io.apimachinery.pkg.api.resource.Quantity":
            return members["string"] ?? .string("0")
        case "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
            return members["type"]?.int == 1 ? (members["strVal"] ?? .string("")) : (members["intVal"] ?? .int(0))
        case "k8s.io.apimachinery.pkg.runtime.RawExtension", "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1":
            let key = members["raw"] != nil ? "raw" : "Raw"
            guard let encoded = members[key]?.string, let data = Data(base64Encoded: encoded) else { return .emptyObject }
            return (try? JSONValue(parsing: data)) ?? .string(encoded)
        case "k8s.io.apimachinery.pkg.apis.meta.v1.Duration":
            let nanoseconds = members["duration"]?.int ?? 0
            return .string("\(Double(nanoseconds) / 1e9)s")
        default:
            let definition = BuiltInSchemas.definitions[name.replacingOccurrences(of: "k8s.io.", with: "io.k8s.", options: .anchored)]
            let required = Set((definition?["required"]?.array ?? []).compactMap(\.string))
            return .object(members.filter { key, value in
                if required.contains(key) || pointerFields.contains(key) { return value != .null }
                switch value {
                case .null, .string(""), .bool(false), .int(0): return false
                case .double(let number): return number != 0
                default: return true
                }
            })
        }
    }

    private static func packable(_ type: String) -> String? {
        ["int32", "int64", "uint32", "uint64", "bool", "double", "float", "sint32", "sint64"].contains(type) ? type : nil
    }

    private static func decodeValue(_ reader: inout Reader, type: String, wire: Int) throws(Failure) -> JSONValue {
        if type.hasPrefix("msg:") {
            return try decodeMessage(try reader.lengthDelimited(), name: String(type.dropFirst(4)))
        }
        if type.hasPrefix("map:") {
            let valueType = String(type.dropFirst(4))
            var entry = Reader(bytes: try reader.lengthDelimited())
            var key = "", value: JSONValue?
            while let (number, entryWire) = try entry.key() {
                if number == 1 { key = String(decoding: try entry.lengthDelimited(), as: UTF8.self) }
                else if number == 2 { value = try decodeValue(&entry, type: valueType, wire: entryWire) }
                else { try entry.skip(entryWire) }
            }
            return ["key": .string(key), "value": value ?? (valueType == "bytes" ? .string("") : .null)]
        }
        return try reader.scalar(type, wire: wire)
    }

    /// A cursor over protobuf wire format.
    private struct Reader {
        var bytes: ArraySlice<UInt8>

        var atEnd: Bool { bytes.isEmpty }

        mutating func varint() throws(Failure) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = bytes.first {
                bytes = bytes.dropFirst()
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
                shift += 7
                if shift > 63 { throw .truncated }
            }
            throw .truncated
        }

        /// The next field's number and wire type, or nil at the end.
        mutating func key() throws(Failure) -> (Int, Int)? {
            if bytes.isEmpty { return nil }
            let key = try varint()
            return (Int(key >> 3), Int(key & 7))
        }

        mutating func lengthDelimited() throws(Failure) -> ArraySlice<UInt8> {
            let length = Int(try varint())
            guard length <= bytes.count else { throw .truncated }
            let value = bytes.prefix(length)
            bytes = bytes.dropFirst(length)
            return value
        }

        mutating func fixed(_ count: Int) throws(Failure) -> UInt64 {
            guard bytes.count >= count else { throw .truncated }
            var value: UInt64 = 0
            for (index, byte) in bytes.prefix(count).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
            bytes = bytes.dropFirst(count)
            return value
        }

        mutating func skip(_ wire: Int) throws(Failure) {
            switch wire {
            case 0: _ = try varint()
            case 1: _ = try fixed(8)
            case 2: _ = try lengthDelimited()
            case 5: _ = try fixed(4)
            default: throw .truncated
            }
        }

        mutating func scalar(_ type: String, wire: Int) throws(Failure) -> JSONValue {
            switch type {
            case "string": return .string(String(decoding: try lengthDelimited(), as: UTF8.self))
            case "bytes": return .string(Data(try lengthDelimited()).base64EncodedString())
            case "bool": return .bool(try varint() != 0)
            case "int32": return .int(Int64(Int32(truncatingIfNeeded: try varint())))
            case "int64", "uint64", "uint32": return .int(Int64(bitPattern: try varint()))
            case "sint32", "sint64":
                let raw = try varint()
                return .int(Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1))
            case "double": return .double(Double(bitPattern: try fixed(8)))
            case "float": return .double(Double(Float(bitPattern: UInt32(try fixed(4)))))
            default:
                try skip(wire)
                return .null
            }
        }
    }
}
