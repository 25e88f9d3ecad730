import DequeModule

/// Failed admin logins per peer address, so that a flood of wrong passwords can neither
/// guess quickly nor keep the hashing threads busy. After `limit` failures within
/// `window` of the first one, the peer's admin requests with credentials get 429 until
/// the window ends, and no hash is computed for them. Checks under way count too (at most
/// `limit` at once per peer), since their failures are known only when they end: a peer
/// gets at most `2 × limit − 1` guesses checked per window. A success resets nothing: a
/// peer that knows one password cannot use it to keep guessing another.
///
/// The table is bounded: past `capacity` peers, the oldest entry is dropped.
public struct LoginFailures: Sendable {
    public static let defaultLimit = 5
    static let defaultWindow = Duration.seconds(60)
    static let defaultCapacity = 10_000

    let limit: Int
    let window: Duration
    let capacity: Int

    private struct Peer {
        var failures = 0
        var windowStart: ContinuousClock.Instant
        var inFlight = 0
    }

    private var peers: [String: Peer] = [:]
    /// When each peer got its entry, oldest first: the order of eviction.
    private var order = Deque<String>()

    init(limit: Int = defaultLimit, window: Duration = defaultWindow, capacity: Int = defaultCapacity) {
        self.limit = max(1, limit)
        self.window = window
        self.capacity = max(1, capacity)
    }

    var count: Int { peers.count }

    /// How long `peer` must wait before its credentials are checked again; nil: now.
    func retryAfter(_ peer: String, now: ContinuousClock.Instant = .now) -> Duration? {
        guard let entry = peers[peer] else { return nil }
        let end = entry.windowStart + window
        if entry.failures >= limit, now < end { return end - now }
        if entry.inFlight >= limit { return .seconds(1) }
        return nil
    }

    /// A hash check for `peer` starts.
    mutating func begin(_ peer: String, now: ContinuousClock.Instant = .now) {
        update(peer, now: now) { $0.inFlight += 1 }
    }

    /// A hash check for `peer` ended; `failed`: with wrong credentials.
    mutating func end(_ peer: String, failed: Bool, now: ContinuousClock.Instant = .now) {
        update(peer, now: now) { entry in
            entry.inFlight = max(0, entry.inFlight - 1)
        }
        if failed { recordFailure(peer, now: now) }
    }

    /// `peer` offered wrong credentials (checked or not).
    mutating func recordFailure(_ peer: String, now: ContinuousClock.Instant = .now) {
        let window = self.window
        update(peer, now: now) { entry in
            if now >= entry.windowStart + window || entry.failures == 0 {
                entry.failures = 0
                entry.windowStart = now
            }
            entry.failures += 1
        }
    }

    private mutating func update(_ peer: String, now: ContinuousClock.Instant, _ change: (inout Peer) -> Void) {
        if peers[peer] == nil {
            while peers.count >= capacity, let oldest = order.popFirst() {
                peers[oldest] = nil
            }
            peers[peer] = Peer(windowStart: now)
            order.append(peer)
        }
        change(&peers[peer]!)
        // A peer with nothing counted any more takes no room.
        if let entry = peers[peer], entry.inFlight == 0, entry.failures == 0 || now >= entry.windowStart + window {
            peers[peer] = nil
            if order.last == peer { order.removeLast() } else if let index = order.firstIndex(of: peer) { order.remove(at: index) }
        }
    }
}
