import Foundation

/// The API description, `Resources/openapi.yaml` (also `docs/openapi.yaml`); nil when the
/// resource bundle was not installed next to the binary.
enum OpenAPIDocument {
    static let yaml: String? = Bundle.module.url(forResource: "openapi", withExtension: "yaml")
        .flatMap { try? String(contentsOf: $0, encoding: .utf8) }
}
