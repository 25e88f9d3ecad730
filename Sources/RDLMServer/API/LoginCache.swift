import Crypto
import DequeModule

/// Credentials that passed a hash check recently, so that a page polling an admin endpoint
/// pays for one bcrypt check a minute, not one per request. Keyed by the SHA-256 of the
/// offered `user:password` bytes: the password itself is not kept. Only successes are
/// remembered, so a guess is never answered from here; and the table is bounded.
struct LoginCache: Sendable {
    /// A SHA-256 digest as four words: hashable, and Sendable (swift-crypto's
    /// `Key` is not declared so).
    struct Key: Hashable, Sendable {
        let words: (UInt64, UInt64, UInt64, UInt64)

        static func == (a: Key, b: Key) -> Bool { a.words == b.words }

        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }
    }

    /// Long enough that a dashboard polling every few seconds is served from here almost
    /// always; short enough that credentials seen once do not stay usable in memory for
    /// long. A password removed from the file stops working at the SIGHUP that installs the
    /// new file (each file has a cache of its own), not only when this runs out.
    static let defaultTTL = Duration.seconds(60)
    static let defaultCapacity = 1_024

    let ttl: Duration
    let capacity: Int
    private var expiries: [Key: ContinuousClock.Instant] = [:]
    /// Insertion order, hence expiry order too (the TTL is fixed): the oldest go first.
    private var order = Deque<(key: Key, expiry: ContinuousClock.Instant)>()

    init(ttl: Duration = defaultTTL, capacity: Int = defaultCapacity) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    /// The key of the offered `user:password` bytes: their SHA-256.
    static func key(_ offered: [UInt8]) -> Key {
        let digest = SHA256.hash(data: offered)
        let words = digest.withUnsafeBytes { raw in
            (0..<4).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
        }
        return Key(words: (words[0], words[1], words[2], words[3]))
    }

    var count: Int { expiries.count }

    func contains(_ key: Key, now: ContinuousClock.Instant = .now) -> Bool {
        guard let expiry = expiries[key] else { return false }
        return now < expiry
    }

    mutating func insert(_ key: Key, now: ContinuousClock.Instant = .now) {
        while let oldest = order.first, oldest.expiry <= now || expiries.count >= capacity {
            order.removeFirst()
            // A key inserted again later has a later expiry: that one stays.
            if expiries[oldest.key] == oldest.expiry { expiries[oldest.key] = nil }
        }
        let expiry = now + ttl
        expiries[key] = expiry
        order.append((key, expiry))
    }
}
