import Logging
import NIOCore
import Synchronization

/// Admin credentials, checked: the mode in force (replaced on SIGHUP), a cache of recent
/// successful hash checks per file, the failures per peer, and the pool the hashes are
/// computed on. Plain lines and cached credentials are decided at once, on the caller's
/// thread; only credentials that need a hash computed give a `PendingCheck`.
final class AdminLogins: Sendable {
    /// One userpass file in force, with the cache of its own successful checks (so a file
    /// installed by SIGHUP starts with an empty one).
    final class Installed: Sendable {
        let mode: AdminAuthentication
        let entries: AdminEntries
        let cache: Mutex<LoginCache>

        init(_ mode: AdminAuthentication, cache: LoginCache) {
            self.mode = mode
            if case .basic(let credentials) = mode {
                entries = AdminEntries(credentials)
            } else {
                entries = AdminEntries([])
            }
            self.cache = Mutex(cache)
        }
    }

    private let installed: Mutex<Installed>
    private let failures: Mutex<LoginFailures>
    private let emptyCache: LoginCache
    let checks: PasswordChecks
    private let logger: Logger
    /// Failed and refused admin logins are logged, at most one line per interval (with the
    /// count held back), so a flood of wrong passwords cannot fill the disk.
    private let failedLogins = Mutex(LogThrottle(interval: .seconds(10)))

    init(_ mode: AdminAuthentication, logger: Logger, cache: LoginCache = LoginCache(), failures: LoginFailures = LoginFailures(), checks: PasswordChecks = PasswordChecks()) {
        self.installed = Mutex(Installed(mode, cache: cache))
        self.emptyCache = cache
        self.failures = Mutex(failures)
        self.checks = checks
        self.logger = logger
    }

    /// Puts `mode` in force for the logins checked from now on, with an empty cache.
    func replace(_ mode: AdminAuthentication) {
        let fresh = Installed(mode, cache: emptyCache)
        installed.withLock { $0 = fresh }
    }

    /// Admin requests are refused whatever the credentials (`--admin-userpass-file no`).
    var isDisabled: Bool {
        installed.withLock { $0.mode == .forbidden }
    }

    static let challenge = [("WWW-Authenticate", "Basic realm=\"rdlm\"")]

    /// Decides an admin request's credentials: nil lets it through now, a `PendingCheck`
    /// must be run to decide. `peer` is the client's address (the key of the failure limit).
    /// - Throws: 403 (admin disabled), 401 (no or wrong credentials), 429 (too many
    ///   failures from `peer`), 503 (too many checks under way).
    func admit(authorization: String?, peer: String?) throws(HTTPError) -> PendingCheck? {
        let current = installed.withLock { $0 }
        switch current.mode {
        case .open: return nil
        case .forbidden: throw HTTPError(.forbidden, "admin requests are disabled on this server")
        case .basic: break
        }
        guard let authorization else {
            throw HTTPError(.unauthorized, "admin credentials required", headers: Self.challenge)
        }
        let peer = peer ?? ""
        if let wait = failures.withLock({ $0.retryAfter(peer) }) {
            let seconds = Self.wholeSeconds(wait)
            log("admin login refused: too many failed logins from \(peer)")
            throw HTTPError(.tooManyRequests, "too many failed admin logins from this address; retry in \(seconds) s", headers: [("Retry-After", "\(seconds)")])
        }
        let offered: AdminEntries.Offered
        switch current.entries.offered(authorization: authorization) {
        case .success(let value): offered = value
        case .failure(let denial): throw failed(denial, peer: peer)
        }
        if current.entries.matchesPlain(offered) { return nil }
        let hashes = current.entries.hashes(for: offered)
        guard !hashes.isEmpty else { throw failed(.unauthorized(AdminEntries.wrongCredentials), peer: peer) }
        let key = LoginCache.key(offered.bytes)
        if current.cache.withLock({ $0.contains(key) }) { return nil }
        guard checks.reserve() else {
            log("admin login refused: \(checks.capacity) password checks already under way")
            throw HTTPError(.serviceUnavailable, "too many admin password checks under way; retry in 1 s", headers: [("Retry-After", "1")])
        }
        failures.withLock { $0.begin(peer) }
        return PendingCheck(logins: self, installed: current, key: key, password: offered.password, hashes: hashes, peer: peer)
    }

    /// A check ended: `matched` credentials are remembered in the cache of the file they
    /// were checked against; wrong ones count against the peer.
    fileprivate func finish(_ check: PendingCheck, matched: Bool?) -> HTTPError? {
        failures.withLock { $0.end(check.peer, failed: matched == false) }
        switch matched {
        case true?:
            check.installed.cache.withLock { $0.insert(check.key) }
            return nil
        case false?:
            log("failed admin login: \(AdminEntries.wrongCredentials)")
            return HTTPError(.unauthorized, AdminEntries.wrongCredentials, headers: Self.challenge)
        case nil:
            return .shuttingDown
        }
    }

    private func failed(_ denial: AdminAuthentication.Denial, peer: String) -> HTTPError {
        guard case .unauthorized(let message) = denial else {
            return HTTPError(.forbidden, "admin requests are disabled on this server")
        }
        failures.withLock { $0.recordFailure(peer) }
        log("failed admin login: \(message)")
        return HTTPError(.unauthorized, message, headers: Self.challenge)
    }

    private func log(_ message: String) {
        if let held = failedLogins.withLock({ $0.admit() }) {
            logger.warning("\(message)", metadata: ["held back since the last line": "\(held)"])
        }
    }

    /// `Retry-After`'s whole seconds, rounded up, at least 1.
    static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    func shutdown() async {
        await checks.shutdown()
    }
}

/// Credentials that need a hash computed: `run` computes it on the password-check pool.
struct PendingCheck: Sendable {
    fileprivate let logins: AdminLogins
    fileprivate let installed: AdminLogins.Installed
    fileprivate let key: LoginCache.Key
    fileprivate let password: [UInt8]
    fileprivate let hashes: [CryptHash]
    fileprivate let peer: String

    /// Must be called once for every check `AdminLogins.admit` gives (it holds a place in
    /// the pool's bound and in the peer's count). The future completes on `loop`, exactly
    /// once and never failed: nil for right credentials, else the error to answer.
    func run(on loop: any EventLoop) -> EventLoopFuture<HTTPError?> {
        let (password, hashes) = (self.password, self.hashes)
        return logins.checks.run(on: loop) {
            AdminEntries.verify(password, against: hashes)
        }.map { [self] matched in
            logins.finish(self, matched: matched)
        }.recover { [self] _ in
            logins.finish(self, matched: nil)
        }
    }
}
