/// A change to the set of held locks: what a journal must record so that holders survive
/// a restart. Waiters are not durable (their connections die with the daemon), so only
/// holders appear here.
public enum DurableChange: Sendable, Equatable {
    /// A lock became active (at once or after waiting), with its fencing token.
    case granted(LockInfo)
    /// A holder went away: released, expired, or deleted by an admin.
    case released(LockID)
    /// A holder's lease was renewed: new lifetime and expiry.
    case refreshed(LockInfo)
}
