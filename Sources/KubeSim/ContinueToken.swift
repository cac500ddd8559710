import Foundation
import JSON

/// The opaque `continue` value of a paged list: where the next page starts, at which
/// resourceVersion the list began, and when the token was issued (tokens expire).
struct ContinueToken: Sendable, Equatable {
    var resourceVersion: Int64
    /// The key of the last item returned; the next page starts after it.
    var after: String
    var issuedAt: Date

    var encoded: String {
        let json: JSONValue = ["rv": .int(resourceVersion), "start": .string(after), "issued": .double(issuedAt.timeIntervalSince1970)]
        return Data(json.serialized().utf8).base64EncodedString()
    }

    init(resourceVersion: Int64, after: String, issuedAt: Date) {
        self.resourceVersion = resourceVersion
        self.after = after
        self.issuedAt = issuedAt
    }

    init(decoding text: String) throws(APIError) {
        guard let data = Data(base64Encoded: text), let json = try? JSONValue(parsing: data),
              let rv = json["rv"]?.int, let start = json["start"]?.string, let issued = json["issued"]?.double
        else { throw APIError.badRequest("continue key is not valid: illegal base64 data or invalid JSON") }
        self.init(resourceVersion: rv, after: start, issuedAt: Date(timeIntervalSince1970: issued))
    }
}
