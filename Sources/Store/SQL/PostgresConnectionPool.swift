import Logging
internal import NIOCore
internal import NIOPosix
internal import PostgresNIO
import Synchronization

/// At most `size` connections, opened when first needed and handed out one transaction at a time;
/// callers beyond that wait their turn in order. A closed connection is dropped and replaced.
/// Closing (or dropping) the pool closes its idle connections.
final class PostgresConnectionPool: Sendable {
    private struct State: ~Copyable {
        var idle: [PostgresConnection] = []
        var open = 0
        var waiters: [CheckedContinuation<PostgresConnection?, Never>] = []
        var nextID = 0
        var closed = false
    }

    /// What a lease attempt found.
    private enum Step {
        case use(PostgresConnection)
        case connect(id: Int)
        case wait
        case closed
    }

    private let configuration: PostgresConnection.Configuration
    private let size: Int
    let logger: Logger
    private let state = Mutex(State())

    init(configuration: PostgresConnection.Configuration, size: Int, logger: Logger) {
        self.configuration = configuration
        self.size = size
        self.logger = logger
    }

    deinit {
        // The callback holds each connection until it is closed (postgres-nio checks on deinit).
        for connection in state.withLock({ $0.idle }) { connection.close().whenComplete { _ in _ = connection } }
    }

    func lease() async throws -> PostgresConnection {
        while true {
            let step: Step = state.withLock { state in
                if state.closed { return .closed }
                while let connection = state.idle.popLast() {
                    if !connection.isClosed { return .use(connection) }
                    state.open -= 1
                }
                guard state.open < size else { return .wait }
                state.open += 1
                state.nextID += 1
                return .connect(id: state.nextID)
            }
            switch step {
            case .use(let connection):
                return connection
            case .closed:
                throw PostgresPoolClosed()
            case .connect(let id):
                do {
                    return try await PostgresConnection.connect(
                        on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: id, logger: logger
                    ).get()
                } catch {
                    slotFreed()
                    throw error
                }
            case .wait:
                let handed: PostgresConnection? = await withCheckedContinuation { continuation in
                    let ready: PostgresConnection?? = state.withLock { state in
                        // Given back (or closed) meanwhile: do not wait for a hand-over that already happened.
                        if state.closed { return .some(nil) }
                        if let connection = state.idle.popLast() { return .some(connection) }
                        if state.open < size { return .some(nil) }
                        state.waiters.append(continuation)
                        return .none
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
                if let handed { return handed }
            }
        }
    }

    /// Gives a connection back: to the next waiter, or to the idle list.
    func release(_ connection: PostgresConnection) {
        let (waiter, closeIt): (CheckedContinuation<PostgresConnection?, Never>?, Bool) = state.withLock { state in
            if connection.isClosed || state.closed {
                state.open -= 1
                return (state.waiters.isEmpty ? nil : state.waiters.removeFirst(), state.closed)
            }
            if state.waiters.isEmpty {
                state.idle.append(connection)
                return (nil, false)
            }
            return (state.waiters.removeFirst(), false)
        }
        if closeIt { connection.close().whenComplete { _ in _ = connection } }
        guard let waiter else { return }
        waiter.resume(returning: connection.isClosed || closeIt ? nil : connection)
    }

    /// A connection could not be opened: a waiter may try in its place.
    private func slotFreed() {
        let waiter = state.withLock { state in
            state.open -= 1
            return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
        }
        waiter?.resume(returning: nil)
    }

    func close() async {
        let (waiters, idle) = state.withLock { state in
            state.closed = true
            defer { state.waiters = []; state.idle = [] }
            state.open -= state.idle.count
            return (state.waiters, state.idle)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        for connection in idle { try? await connection.close() }
    }
}

struct PostgresPoolClosed: Error, CustomStringConvertible {
    var description: String { "the PostgreSQL store is closed" }
}
