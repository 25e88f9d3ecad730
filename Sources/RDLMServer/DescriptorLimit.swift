/// The process's limit on open descriptors (RLIMIT_NOFILE): every connection takes one.
public enum DescriptorLimit {
    /// Descriptors kept for everything but client connections: standard streams, the
    /// listener, each event loop's epoll, eventfd and timerfd, the data directory's lock
    /// and journal, the three files a compaction opens, and room to spare for what links
    /// in (resolver, logging).
    public static let reserve = 64

    /// The soft and hard limits now; nil where they cannot be read.
    public static func current() -> (soft: Int, hard: Int)? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return (count(limit.rlim_cur), count(limit.rlim_max))
    }

    /// Raises the soft limit to the hard one. The usual soft default of 1,024 is a relic of
    /// select(2), which NIO does not use; the hard limit is what the administrator allows.
    /// - Returns: the limits before and after (equal when there was nothing to raise or the
    ///   raise was refused).
    @discardableResult
    public static func raiseToHardLimit() -> (before: Int, after: Int)? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let before = count(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 else { return (before, before) }
        return (before, count(raised.rlim_cur))
    }

    /// The default of `--max-connections`: what the soft limit leaves after `reserve`, so
    /// the daemon refuses extra connections with a 503 before it runs out of descriptors.
    public static func defaultMaxConnections() -> Int {
        guard let soft = current()?.soft else { return 1_024 - reserve }
        return max(1, soft - reserve)
    }

    private static func count(_ value: rlim_t) -> Int {
        // RLIM_INFINITY is all ones, which Swift cannot import as a constant.
        value > rlim_t(Int.max) ? Int.max : Int(value)
    }
}
