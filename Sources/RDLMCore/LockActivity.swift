/// One change to one lock, whoever caused it: what the event stream shows and the metrics
/// count. Recorded by the table when asked (`recordsActivity`), in the order it happened.
public struct LockActivity: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Queued behind other locks.
        case waiting
        /// Became a holder, at once or after waiting.
        case granted
        /// A holder deleted by its URL.
        case released
        /// A holder whose lifetime ran out.
        case expired
        /// A holder's lease renewed.
        case refreshed
        /// A waiter that left: its client went away, its wait ran out, or its URL was deleted.
        case withdrawn
        /// Dropped by an admin request (holder or waiter).
        case deleted

        /// Whether the lock is gone after this change.
        public var endsLock: Bool {
            switch self {
            case .waiting, .granted, .refreshed: false
            case .released, .expired, .withdrawn, .deleted: true
            }
        }
    }

    public var kind: Kind
    /// The lock as it stood at the change: for `released`, `expired` and `deleted` of a
    /// holder, still active, so `at` less its `since` is how long it was held.
    public var lock: LockInfo
    public var at: ContinuousClock.Instant

    public init(_ kind: Kind, _ lock: LockInfo, at: ContinuousClock.Instant) {
        self.kind = kind
        self.lock = lock
        self.at = at
    }

    /// How long a holder held, when this change ended its hold.
    public var heldFor: Duration? {
        guard kind.endsLock, case .active(let since, _, _) = lock.state else { return nil }
        return at - since
    }
}
