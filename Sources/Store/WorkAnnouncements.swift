import Foundation
import Logging
internal import NIOCore
internal import NIOPosix
internal import PostgresNIO

/// Replicas sharing a PostgreSQL store tell each other of new work at once (`NOTIFY`): a request
/// accepted by one replica is taken up by the one leading its cluster without waiting for its
/// next look at the store. A SQLite store has no other replica to tell.
extension Store {
    /// The PostgreSQL channel the announcements go through.
    static let workChannel = "sandman_work"

    /// Tells every replica sharing the store, this one included, that `cluster` has new work
    /// (`pg_notify`; nothing on SQLite). Best effort: the replicas also look by themselves.
    public func announceWork(cluster: String) async {
        guard let postgres = backend as? PostgresBackend else { return }
        do {
            _ = try await postgres.write { db in try db.execute("SELECT pg_notify(?, ?)", [Self.workChannel, cluster]) }
        } catch {
            postgres.logger.warning("cannot announce new work to the other replicas", metadata: ["cluster": "\(cluster)", "error": "\(error)"])
        }
    }

    /// Calls `handle` with the cluster of every announcement, until cancelled; returns at once on
    /// a store no other replica shares. Listens on a connection of its own, opened again a second
    /// after it fails.
    public func followAnnouncements(_ handle: @escaping @Sendable (String) async -> Void) async {
        guard let postgres = backend as? PostgresBackend else { return }
        while !Task.isCancelled {
            do {
                try await postgres.listen(on: Self.workChannel, handle)
            } catch where !Task.isCancelled {
                postgres.logger.warning("lost the announcements of other replicas; listening again", metadata: ["error": "\(error)"])
            } catch {
                return
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

extension PostgresBackend {
    /// Listens on `channel` until the connection fails or the task is cancelled (which closes it).
    func listen(on channel: String, _ handle: @escaping @Sendable (String) async -> Void) async throws {
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(), configuration: connectionConfiguration, id: 0, logger: logger
        ).get()
        defer { connection.close().whenComplete { _ in _ = connection } }
        try await withTaskCancellationHandler {
            try await connection.listen(on: channel) { notifications in
                for try await notification in notifications { await handle(notification.payload) }
            }
        } onCancel: {
            connection.close().whenComplete { _ in _ = connection }
        }
    }
}
