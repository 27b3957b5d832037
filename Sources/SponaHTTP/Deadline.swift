/// Runs `operation`, giving up after `limit`.
///
/// The database pool waits for a connection for as long as it takes, and while the database is
/// unreachable that is a minute or more. A person at a desk must learn within seconds that the
/// server cannot answer now (503 with `Retry-After`) rather than watch a spinner.
@discardableResult
func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw Problem.databaseUnavailable }
        return value
    }
}
