/// Something that happened to a lock without its own request causing it: a waiter was
/// granted, gave up or was deleted; a holder expired. The server answers parked requests
/// from these and logs them.
public enum LockEvent: Sendable, Equatable {
    /// A queued request became the holder (or one of the shared holders): the lock as
    /// granted, so whoever answers the parked request needs no second look-up.
    case granted(LockInfo)
    /// A queued request's `wait` ran out (HTTP 408 for the parked request).
    case waitTimedOut(LockID, resource: String)
    /// A queued request was deleted by a release of its URL or an admin request (HTTP 409).
    case waiterDeleted(LockID, resource: String)
    /// A holder's lifetime ran out and the lock was released automatically.
    case expired(LockID, resource: String)
    /// A holder was dropped by an admin request.
    case holderDeleted(LockID, resource: String)
}
