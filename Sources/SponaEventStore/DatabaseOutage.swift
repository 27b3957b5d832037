import NIOCore
import NIOPosix
import PostgresNIO

/// Whether an error says the database could not be reached, went away or gave up on the work
/// (a restart, a dropped connection, a timeout, a shutdown) rather than refusing what was
/// asked of it: the one answer to "wait and try again?" that the HTTP edge (503 + Retry-After)
/// and the projection runners (retry, never stop at the event) share. By type and SQLSTATE,
/// never by the text of a type's name.
public enum DatabaseOutage {
    public static func matches(_ error: any Error) -> Bool {
        switch error {
        case is DatabaseTimeout, is ChannelError, is IOError, is NIOConnectionError:
            return true
        case let error as PostgresTransactionError:
            // A failed BEGIN, ROLLBACK or COMMIT is the connection's; the closure's error is
            // whatever the work threw.
            if error.beginError != nil || error.commitError != nil || error.rollbackError != nil { return true }
            return error.closureError.map(matches) ?? true
        case let error as PSQLError:
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown, .queryCancelled:
                return true
            default:
                // No SQLSTATE: the connection failed. Classes 08 (connection), 53 (resources),
                // 57 (operator: shutdown, cancel), 58 (system) are the database's state.
                guard let state = error.serverInfo?[.sqlState] else { return true }
                return ["08", "53", "57", "58"].contains { state.hasPrefix($0) }
            }
        default:
            return false
        }
    }
}
