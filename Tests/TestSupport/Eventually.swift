/// Polls `condition` until it holds or `timeout` passes; true when it held. For tests that wait
/// on background work without depending on how fast the machine is: the timeout only bounds how
/// long a failing test takes, so it is generous (a loaded 2-core CI machine runs the whole suite
/// at once).
public func eventually(timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// Replicas by workload name, all at 0; false when there are none (a missing namespace is not
/// asleep, and an empty map must not pass for one).
public func allAsleep(_ replicas: [String: Int64]) -> Bool {
    !replicas.isEmpty && replicas.values.allSatisfy { $0 == 0 }
}

/// Replicas by workload name, all above 0; false when there are none.
public func allAwake(_ replicas: [String: Int64]) -> Bool {
    !replicas.isEmpty && replicas.values.allSatisfy { $0 > 0 }
}
