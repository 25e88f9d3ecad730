import Foundation

/// How a lock shares its resource with other locks.
public enum LockMode: String, Sendable, Hashable, CaseIterable {
    /// The only holder of the resource (the default, and the original RDLM's only mode).
    case exclusive
    /// One of any number of shared holders; exclusive requests wait until all have left.
    case shared
}

/// A lock granted by `rdlmd`: what is needed to release, refresh or inspect it, and the
/// fencing token to hand to whatever the lock protects.
///
/// A `Lock` is a plain value: copying it does not copy the lock, and dropping it does not
/// release it. Use ``RDLMClient/withLock(_:lifetime:wait:mode:title:keepAlive:_:)`` or
/// ``OwnedLock`` for a lock that is released when its scope ends.
public struct Lock: Sendable, Hashable, CustomStringConvertible {
    /// The lock's absolute URL, as the server gave it in `Location`, or with the server
    /// that answered the latest refresh when its own gave no answer.
    public let url: URL
    /// The name of the locked resource.
    public let resource: String
    /// The lock's unique id, 32 lower-case hex characters (the last part of ``url``).
    public let uid: String
    /// The grant's fencing token: greater than every token granted before on this
    /// resource. Pass it to the storage the lock protects, so it can refuse writes bearing
    /// an older one. `nil` only from a server without fencing tokens (the original RDLM).
    public let fencingToken: UInt64?
    /// When the lease runs out unless refreshed, on this machine's monotonic clock. It is
    /// measured from the moment the grant arrived, so the server's own expiry comes earlier
    /// by the network delay of that answer.
    public let expiry: ContinuousClock.Instant
    /// The lease length asked for (and renewed by each refresh).
    public let lifetime: Duration
    /// Exclusive or shared.
    public let mode: LockMode
    /// The title sent with the request.
    public let title: String

    init(url: URL, resource: String, uid: String, fencingToken: UInt64?, expiry: ContinuousClock.Instant, lifetime: Duration, mode: LockMode, title: String) {
        self.url = url
        self.resource = resource
        self.uid = uid
        self.fencingToken = fencingToken
        self.expiry = expiry
        self.lifetime = lifetime
        self.mode = mode
        self.title = title
    }

    /// The same lock with a renewed lease.
    func renewed(lifetime: Duration, expiry: ContinuousClock.Instant, url: URL) -> Lock {
        Lock(url: url, resource: resource, uid: uid, fencingToken: fencingToken, expiry: expiry, lifetime: lifetime, mode: mode, title: title)
    }

    /// `backup lock 9d2c… (token 1795717746226014)`.
    public var description: String {
        let token = fencingToken.map { " (token \($0))" } ?? ""
        return "\(resource) lock \(uid)\(token)"
    }
}

/// A lock as the server describes it (`GET` on a lock URL, or the admin listing of a
/// resource): held or still waiting.
public struct LockDetails: Sendable, Hashable {
    /// The lock's absolute URL.
    public let url: URL
    /// The name of the resource.
    public let resource: String
    /// The lock's unique id.
    public let uid: String
    /// The title its client sent.
    public let title: String
    /// The lease length asked for.
    public let lifetime: Duration
    /// How long the request may wait (or could have waited).
    public let wait: Duration
    /// Exclusive or shared.
    public let mode: LockMode
    /// True for a holder, false for a request still waiting in the queue.
    public let isActive: Bool
    /// When the lock was granted (holders only), by the server's wall clock.
    public let activeSince: Date?
    /// When the lease runs out unless refreshed (holders only), by the server's wall clock.
    public let activeExpires: Date?
    /// When the request started waiting (waiters only), by the server's wall clock.
    public let waitSince: Date?
    /// When the waiting request gives up (waiters only), by the server's wall clock.
    public let waitExpires: Date?
    /// The grant's fencing token (holders only, and only from servers that issue them).
    public let fencingToken: UInt64?
}
