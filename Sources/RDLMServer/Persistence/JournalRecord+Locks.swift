import RDLMCore

extension JournalRecord {
    /// The record of a change, with its instants as wall-clock times.
    init(_ change: DurableChange, wall: WallClock) {
        switch change {
        case .granted(let lock):
            self = .granted(StoredLock(lock, wall: wall))
        case .released(let id):
            self = .released(id)
        case .refreshed(let lock):
            self = .refreshed(lock.id, lifetimeMicroseconds: lock.request.lifetime.microseconds,
                              expiresWallNanoseconds: wall.nanoseconds(lock.deadline))
        }
    }
}

extension JournalRecord.StoredLock {
    /// A holder as stored; waiters are never stored.
    init(_ lock: LockInfo, wall: WallClock) {
        let since: ContinuousClock.Instant
        let token: FencingToken
        if case .active(let activeSince, _, let activeToken) = lock.state {
            since = activeSince
            token = activeToken
        } else {
            since = lock.deadline
            token = 0
        }
        self.init(
            id: lock.id, resource: lock.resource, title: lock.request.title,
            lifetimeMicroseconds: lock.request.lifetime.microseconds, waitMicroseconds: lock.request.wait.microseconds,
            mode: lock.request.mode, token: token,
            sinceWallNanoseconds: wall.nanoseconds(since), expiresWallNanoseconds: wall.nanoseconds(lock.deadline))
    }

    /// The holder again, its wall-clock times mapped back onto this process's clock: it
    /// keeps the remaining lifetime its stored expiry gives it.
    func lockInfo(wall: WallClock) -> LockInfo {
        LockInfo(
            id: id, resource: resource,
            request: LockRequest(title: title, lifetime: .microseconds(lifetimeMicroseconds), wait: .microseconds(waitMicroseconds), mode: mode),
            state: .active(since: wall.instant(sinceWallNanoseconds), expires: wall.instant(expiresWallNanoseconds), token: token))
    }
}

extension Duration {
    /// Whole microseconds, the resolution durations are kept at.
    var microseconds: Int64 { nanoseconds / 1_000 }
}
