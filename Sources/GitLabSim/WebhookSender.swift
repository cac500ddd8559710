import Foundation
import JSON
import Transport

/// Delivers webhook events as GitLab does (POST with `X-Gitlab-Event`, `X-Gitlab-Token`,
/// `X-Gitlab-Instance`, `X-Gitlab-Webhook-UUID`, `X-Gitlab-Event-UUID`), each in its own child
/// task, retrying an event that got no 2xx answer.
struct WebhookSender {
    let state: GitLabState
    let instance: String

    func run(_ events: AsyncStream<WebhookEvent>) async {
        let configuration = state.configuration
        let client = HTTPClient(configuration: .init(timeout: configuration.webhookTimeout, userAgent: "GitLab/17.8.0-sim"))
        defer { client.shutdown() }
        await withDiscardingTaskGroup { group in
            for await event in events {
                group.addTask { await deliver(event, client: client) }
            }
        }
    }

    private func deliver(_ event: WebhookEvent, client: HTTPClient) async {
        let configuration = state.configuration
        var headers: HTTPHeaders = [
            "Content-Type": "application/json", "X-Gitlab-Event": event.event, "X-Gitlab-Instance": instance,
            "X-Gitlab-Webhook-UUID": UUID().uuidString.lowercased(), "X-Gitlab-Event-UUID": UUID().uuidString.lowercased(),
        ]
        if let token = event.token { headers["X-Gitlab-Token"] = token }
        var delay = configuration.webhookRetryDelay
        for attempt in 1...max(1, configuration.webhookAttempts) {
            var record = WebhookDelivery(
                hookID: event.hookID, url: event.url, event: event.event,
                action: event.payload[path: ["object_attributes", "action"]]?.string, attempt: attempt,
                status: nil, error: nil, time: Date(), payload: event.payload
            )
            do {
                let response = try await client.send(HTTPRequest(method: .post, url: event.url, headers: headers, body: event.payload.serializedData()))
                record.status = response.status
            } catch {
                record.error = "\(error)"
            }
            let delivered = record.status.map { (200..<300).contains($0) } ?? false
            state.deliveries.withLock { $0.append(record) }
            if delivered || Task.isCancelled { return }
            if attempt < configuration.webhookAttempts {
                do { try await Task.sleep(for: delay) } catch { return }
                delay *= 2
            }
        }
    }
}
