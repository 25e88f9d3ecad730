/// A snapshot of one lock, as the HTTP layer shows it.
public struct LockInfo: Sendable, Equatable {
    public var id: LockID
    public var resource: String
    public var request: LockRequest
    public var state: LockState

    public init(id: LockID, resource: String, request: LockRequest, state: LockState) {
        self.id = id
        self.resource = resource
        self.request = request
        self.state = state
    }

    public var isActive: Bool {
        if case .active = state { return true }
        return false
    }

    /// The fencing token of an active lock; a waiting lock has none yet.
    public var fencingToken: FencingToken? {
        if case .active(_, _, let token) = state { return token }
        return nil
    }

    /// The instant the current state ends: expiry for a holder, give-up for a waiter.
    public var deadline: ContinuousClock.Instant {
        switch state {
        case .waiting(_, let expires), .active(_, let expires, _): return expires
        }
    }
}
