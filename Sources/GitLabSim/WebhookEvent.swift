import Foundation
import JSON

/// One webhook call to make: the hook's URL and secret token, the `X-Gitlab-Event` name and the body.
struct WebhookEvent: Sendable {
    var hookID: Int
    var url: String
    var token: String?
    var event: String
    var payload: JSONValue
}

/// A webhook call as it went: one record per attempt.
public struct WebhookDelivery: Sendable {
    public var hookID: Int
    public var url: String
    /// `X-Gitlab-Event`, e.g. `Merge Request Hook`.
    public var event: String
    /// `object_attributes.action` for merge request events (`open`, `update`, `merge`, ...).
    public var action: String?
    public var attempt: Int
    /// The receiver's status, or nil when no answer came (connection refused, timeout).
    public var status: Int?
    public var error: String?
    public var time: Date
    /// The body that was sent.
    public var payload: JSONValue
}
