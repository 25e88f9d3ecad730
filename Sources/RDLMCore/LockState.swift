/// Where a lock request stands.
public enum LockState: Sendable, Equatable {
    /// Queued behind other locks until `expires`, when the request gives up.
    case waiting(since: ContinuousClock.Instant, expires: ContinuousClock.Instant)
    /// Holding the resource until `expires`, when it is released automatically.
    case active(since: ContinuousClock.Instant, expires: ContinuousClock.Instant, token: FencingToken)
}
