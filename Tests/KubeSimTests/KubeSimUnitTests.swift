import Foundation
import JSON
@testable import KubeSim
import Testing

/// The simulator's pure parts, by tables and seeded random cases.
@Suite("KubeSim internals")
struct KubeSimUnitTests {
    /// Protobuf wire format, written by hand: field key (number << 3 | wire type), varint lengths.
    private func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(number << 3 | 2), UInt8(bytes.count)] + bytes }
    private func field(_ number: Int, _ text: String) -> [UInt8] { field(number, Array(text.utf8)) }
    private func varint(_ number: Int, _ value: UInt8) -> [UInt8] { [UInt8(number << 3), value] }

    private func envelope(apiVersion: String, kind: String, _ raw: [UInt8]) -> Data {
        Data([0x6B, 0x38, 0x73, 0x00] + field(1, field(1, apiVersion) + field(2, kind)) + field(2, raw))
    }

    @Test func protobufDeploymentDecodesWithPointerZerosAndIntOrString() throws {
        let type = try #require(ResourceType.builtIns.first { $0.kind == "Deployment" })
        let metadata = field(1, "web") + field(3, "") + field(11, field(1, "app") + field(2, "web"))
        let container = field(1, "web") + field(2, "nginx:1.27") + field(6, varint(3, 80))
        let template = field(1, field(11, field(1, "app") + field(2, "web"))) + field(2, field(2, container))
        // maxUnavailable as IntOrString {type: 1 (string), strVal: "30%"}.
        let strategy = field(1, "RollingUpdate") + field(2, field(1, varint(1, 1) + field(3, "30%")))
        let spec = varint(1, 0) + field(2, field(1, field(1, "app") + field(2, "web"))) + field(3, template) + field(4, strategy) + varint(5, 0)
        let object = try ProtobufDecoder.decode(envelope(apiVersion: "apps/v1", kind: "Deployment", field(1, metadata) + field(2, spec)), type: type)
        #expect(object["kind"] == "Deployment")
        #expect(object[path: ["metadata", "name"]] == "web")
        #expect(object[path: ["metadata", "namespace"]] == nil, "empty strings are Go zero values, left out")
        #expect(object[path: ["metadata", "labels"]] == ["app": "web"])
        #expect(object[path: ["spec", "replicas"]] == 0, "replicas is a pointer: an explicit 0 stays")
        #expect(object[path: ["spec", "minReadySeconds"]] == nil, "minReadySeconds is not: 0 is its zero value")
        #expect(object[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]] == "30%")
        #expect(object[path: ["spec", "template", "spec", "containers"]] == [["name": "web", "image": "nginx:1.27", "ports": [["containerPort": 80]]]])
    }

    @Test func protobufSecretBytesAndBadEnvelopes() throws {
        let type = try #require(ResourceType.builtIns.first { $0.kind == "Secret" })
        let entry = field(1, "key") + field(2, [0x00, 0xFF, 0x41])
        let object = try ProtobufDecoder.decode(envelope(apiVersion: "v1", kind: "Secret", field(1, field(1, "s")) + field(2, entry) + field(3, "Opaque")), type: type)
        #expect(object[path: ["data", "key"]] == .string(Data([0x00, 0xFF, 0x41]).base64EncodedString()))
        #expect(throws: ProtobufDecoder.Failure.self) { try ProtobufDecoder.decode(Data("{}".utf8), type: type) }
        #expect(throws: ProtobufDecoder.Failure.self) { try ProtobufDecoder.decode(Data([0x6B, 0x38, 0x73, 0x00, 0x12, 0x09, 0x01]), type: type) }
    }

    @Test(arguments: [
        ("app", true), ("example.com/app", true), ("app.kubernetes.io/name", true), ("bad key", false),
        ("-app", false), ("/app", false), ("a/b/c", false), (String(repeating: "a", count: 64), false), ("UPPER.case_ok", true),
    ])
    func qualifiedNames(key: String, valid: Bool) {
        #expect(NameRules.qualifiedName(key).isEmpty == valid, "\(key)")
    }

    @Test(arguments: [("web", "Deployment", "apps", true), ("Web", "Deployment", "apps", false), ("a.b", "Namespace", "", false),
                      ("1svc", "Service", "", false), ("system:admin", "ClusterRole", "rbac.authorization.k8s.io", true),
                      (String(repeating: "c", count: 53), "CronJob", "batch", false)])
    func objectNames(name: String, kind: String, group: String, valid: Bool) {
        #expect(NameRules.objectName(name, kind: kind, group: group).isEmpty == valid, "\(kind) \(name)")
    }

    @Test(arguments: [("app in (a,b)", "app in (a,b)"), ("a+b", "a b"), ("x%2By", "x+y"), ("v%3D1", "v=1")])
    func queryStringsDecodeAsGoDoes(raw: String, decoded: String) {
        #expect(QueryParameters("labelSelector=\(raw.replacingOccurrences(of: " ", with: "+"))")["labelSelector"] == decoded)
    }

    /// fieldsV1 written and read back is the same set of paths, for random sets (seed printed).
    @Test func fieldsV1RoundTrips() {
        var seed = UInt64(Date().timeIntervalSince1970)
        let start = seed
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        for _ in 0..<200 {
            var paths: Set<FieldPath> = []
            for _ in 0..<(1 + next(8)) {
                var elements: [FieldPath.Element] = []
                for _ in 0..<(1 + next(4)) {
                    switch next(3) {
                    case 0: elements.append(.field(["spec", "containers", "image", "a.b/c", "x"][next(5)]))
                    case 1: elements.append(.key(["name": .string(["web", "db"][next(2)])]))
                    default: elements.append(.value(next(2) == 0 ? .string("fin") : .int(Int64(next(9)))))
                    }
                }
                paths.insert(FieldPath(elements))
            }
            #expect(Set<FieldPath>(fieldsV1: paths.fieldsV1) == paths, "seed \(start)")
        }
    }

    /// Structured-merge-diff merging: map lists by key, sets by value, atomic lists replaced.
    @Test func applyMergesByListType() throws {
        let schema = try #require(BuiltInSchemas.schema(group: "apps", version: "v1", kind: "Deployment"))
        let walker = FieldWalker(schema: schema, subresource: "")
        let live: JSONValue = ["metadata": ["finalizers": ["a"]], "spec": ["template": ["spec": ["containers": [["name": "web", "image": "1"]], "tolerations": [["key": "x"]]]]]]
        let applied: JSONValue = ["metadata": ["finalizers": ["b"]], "spec": ["template": ["spec": ["containers": [["name": "side", "image": "2"]], "tolerations": [["key": "y"]]]]]]
        let merged = walker.merge(live, applied)
        #expect(merged[path: ["spec", "template", "spec", "containers"]]?.array?.compactMap { $0["name"]?.string } == ["web", "side"])
        #expect(merged[path: ["metadata", "finalizers"]] == ["a", "b"])
        #expect(merged[path: ["spec", "template", "spec", "tolerations"]] == [["key": "y"]])
        let fields = walker.fieldSet(of: applied)
        #expect(fields.contains(FieldPath([.field("spec"), .field("template"), .field("spec"), .field("containers"), .key(["name": "side"]), .field("image")])))
        #expect(fields.contains(FieldPath([.field("metadata"), .field("finalizers"), .value("b")])))
        #expect(fields.contains(FieldPath([.field("spec"), .field("template"), .field("spec"), .field("tolerations")])))
    }

    /// The faults' JSON form: the request filters round-trip, and a malformed one names its field.
    @Test(arguments: [
        (#"{"errorRate": 1, "errorResources": ["leases.coordination.k8s.io"], "errorUsers": ["hub-a"]}"#, nil),
        (#"{"errorVerbs": ["patch", "update"], "errorStatus": 409}"#, nil),
        (#"{"errorResources": "leases"}"#, "errorResources: must be a list of resources"),
        (#"{"errorUsers": [1]}"#, "errorUsers: must be a list of user names"),
        (#"{"errorVerbs": [true]}"#, "errorVerbs: must be a list of verbs"),
    ] as [(String, String?)])
    func faultFiltersRoundTrip(_ body: String, _ expectedError: String?) throws {
        let json = try JSONValue(parsing: Data(body.utf8))
        do {
            let faults = try KubeSim.Faults(json: json)
            #expect(expectedError == nil)
            #expect(try KubeSim.Faults(json: faults.json) == faults)
            for field in ["errorResources", "errorUsers", "errorVerbs"] where json[field] != nil {
                #expect(Set(faults.json[field]?.array ?? []) == Set(json[field]?.array ?? []), "\(field)")
            }
        } catch {
            #expect(error.description == expectedError, "\(body)")
        }
    }
}
