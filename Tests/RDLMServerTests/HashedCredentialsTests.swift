import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RDLMTestSupport
import Testing
@testable import RDLMServer

/// Hashes made with the tools the README names (htpasswd -nbB, mkpasswd), each of the
/// password `right-` plus its method's name.
enum Hashes {
    static let bcrypt2y = #"$2y$04$jyLI1UcLIGAGIonrdn1At.xywPbBnouGekq4KWN7gNtG9.IJV3vbW"#
    static let bcrypt2b = #"$2b$05$0HiC0EV/Dn8Qp.sUHb/hlOwWDnlnzknPxZkmM.VNoOILbO0oWji4C"#
    static let yescrypt = #"$y$j9T$d7IMIbERL1aKJupzIeNCh0$n39jPUyY3Vx.lofAqGlPd0GDy.vJrZx4J./AdlBy718"#
    static let sha512 = #"$6$mRPfcECfPAl4/6r9$yJDUYWkPm8rT6yFZNJIZtdeIuEieqBP4q4Ba6rDSCkOEbbVcna8MsVEYZZpEXdOiIGWTUYihLLF1P6U8OXJTj."#
    static let md5 = #"$1$hVAPXWrK$4NRdUDFRx9Vx1NF3eAku31"#

    /// (hash, its right password)
    static let all = [(bcrypt2y, "right-2y"), (bcrypt2b, "right-2b"), (yescrypt, "right-y"), (sha512, "right-6")]
}

private func userpassFile(_ text: String) throws -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("rdlm-admins-\(UUID().uuidString)")
    try text.write(to: file, atomically: true, encoding: .utf8)
    return file.path
}

private func authorization(_ credentials: String) -> String { basic(credentials) }

@Suite("Hashed admin credentials")
struct HashedCredentialsTests {
    @Test("a file of every format loads; only the plain line warns, naming its line number")
    func parsesEveryFormat() throws {
        let path = try userpassFile("# admins\n\na:\(Hashes.bcrypt2y)\nplain:secret\nb:\(Hashes.bcrypt2b)\n  y:\(Hashes.yescrypt)  \ns:\(Hashes.sha512)\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let loaded = try AdminAuthentication.load(path)
        #expect(loaded.admin == .basic(credentials: [
            "a:\(Hashes.bcrypt2y)", "plain:secret", "b:\(Hashes.bcrypt2b)", "y:\(Hashes.yescrypt)", "s:\(Hashes.sha512)",
        ]))
        #expect(loaded.warnings.count == 1)
        #expect(loaded.warnings.first?.contains("line 4 (user 'plain'): the password is stored in plain text") == true, "\(loaded.warnings)")
    }

    @Test("every plain line warns with its own line number (CRLF lines counted too)")
    func plainLinesWarn() throws {
        let path = try userpassFile("admin:s3cret\r\n# c\r\n\r\nops:other\r\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let warnings = try AdminAuthentication.load(path).warnings
        #expect(warnings.count == 2)
        #expect(warnings[0].contains("line 1 (user 'admin')"), "\(warnings)")
        #expect(warnings[1].contains("line 4 (user 'ops')"), "\(warnings)")
    }

    @Test("a legacy method (MD5 crypt) loads with a warning")
    func legacyMethodWarns() throws {
        let path = try userpassFile("old:\(Hashes.md5)\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let loaded = try AdminAuthentication.load(path)
        #expect(loaded.warnings.count == 1)
        #expect(loaded.warnings.first?.contains("line 1 (user 'old'): its hash method is a legacy one") == true, "\(loaded.warnings)")
    }

    @Test("a hash libxcrypt cannot check is a start-up error naming its line", arguments: [
        (#"$apr1$jM8w2gdW$iXe9ZrLvtziMKesgr9DWR0"#, "not one libxcrypt knows"),
        (#"$x$abc"#, "not one libxcrypt knows"),
        (#"$6$"#, "incomplete"),
        (#"$2y$05$short"#, "malformed"),
    ])
    func badHashes(hash: String, reason: String) throws {
        let path = try userpassFile("admin:\(Hashes.bcrypt2y)\n# next\nops:\(hash)\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: ConfigurationError.self) { try AdminAuthentication.load(path) }
        #expect(error.description.hasPrefix("admin userpass file '\(path)', line 3 (user 'ops'): its hash is"), "\(error)")
        #expect(error.description.contains(reason), "\(error)")
    }

    @Test("each hash accepts its password and refuses another, and another user", arguments: Hashes.all)
    func checking(hash: String, password: String) {
        let mode = AdminAuthentication.basic(credentials: ["admin:\(hash)"])
        #expect(mode.check(authorization: authorization("admin:\(password)")) == nil)
        #expect(mode.check(authorization: authorization("admin:\(password)x")) == .unauthorized("wrong admin credentials"))
        #expect(mode.check(authorization: authorization("admin:")) == .unauthorized("wrong admin credentials"))
        #expect(mode.check(authorization: authorization("other:\(password)")) == .unauthorized("wrong admin credentials"))
        // The hash itself is not a password.
        #expect(mode.check(authorization: authorization("admin:\(hash)")) == .unauthorized("wrong admin credentials"))
    }

    @Test("the stored hash is never compared as plain text, nor a NUL byte let through")
    func hashIsNotPlain() {
        #expect(CryptHash(Hashes.sha512).matches(password: Array("right-6".utf8)))
        #expect(!CryptHash(Hashes.sha512).matches(password: Array("right-6\0extra".utf8)))
    }

    // MARK: The cache

    @Test("the cache remembers a key until its TTL, and holds at most its capacity")
    func cacheExpiresAndIsBounded() {
        var cache = LoginCache(ttl: .seconds(60), capacity: 3)
        let start = ContinuousClock.now
        let keys = (0..<5).map { LoginCache.key(Array("user:\($0)".utf8)) }
        cache.insert(keys[0], now: start)
        #expect(cache.contains(keys[0], now: start + .seconds(59)))
        #expect(!cache.contains(keys[0], now: start + .seconds(60)))
        #expect(!cache.contains(keys[1], now: start))
        for (offset, key) in keys.enumerated() { cache.insert(key, now: start + .seconds(offset)) }
        #expect(cache.count == 3)
        #expect(!cache.contains(keys[0], now: start + .seconds(5)) && !cache.contains(keys[1], now: start + .seconds(5)))
        #expect(keys[2...].allSatisfy { cache.contains($0, now: start + .seconds(5)) })
        #expect(LoginCache.key(Array("a:b".utf8)) == LoginCache.key(Array("a:b".utf8)))
        #expect(LoginCache.key(Array("a:b".utf8)) != LoginCache.key(Array("a:c".utf8)))
    }

    @Test("a successful check is remembered: the same credentials are then admitted without one; SIGHUP's file starts empty")
    func cachedAfterSuccess() async throws {
        let logins = AdminLogins(.basic(credentials: ["admin:\(Hashes.bcrypt2y)"]), logger: Logger(label: "test"))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let header = authorization("admin:right-2y")
        let first = try #require(try logins.admit(authorization: header, peer: "10.0.0.1"))
        #expect(try await first.run(on: loop).get() == nil)
        #expect(try logins.admit(authorization: header, peer: "10.0.0.1") == nil)
        #expect(try logins.admit(authorization: header, peer: "10.0.0.2") == nil)
        // Wrong credentials are never cached.
        let wrong = try #require(try logins.admit(authorization: authorization("admin:wrong"), peer: "10.0.0.1"))
        #expect(try await wrong.run(on: loop).get()?.status == .unauthorized)
        #expect(try logins.admit(authorization: authorization("admin:wrong"), peer: "10.0.0.1") != nil)
        logins.replace(.basic(credentials: ["admin:\(Hashes.bcrypt2y)"]))
        #expect(try logins.admit(authorization: header, peer: "10.0.0.1") != nil)
        await logins.shutdown()
    }

    // MARK: The failure limit

    @Test("after 5 failures within the window a peer waits out the window; other peers do not")
    func failureTable() {
        var table = LoginFailures(limit: 5, window: .seconds(60))
        let start = ContinuousClock.now
        for second in 0..<4 { table.recordFailure("a", now: start + .seconds(second)) }
        #expect(table.retryAfter("a", now: start + .seconds(4)) == nil)
        table.recordFailure("a", now: start + .seconds(4))
        #expect(table.retryAfter("a", now: start + .seconds(10)) == .seconds(50))
        #expect(table.retryAfter("b", now: start + .seconds(10)) == nil)
        #expect(table.retryAfter("a", now: start + .seconds(60)) == nil)
        // A new window starts with the next failure.
        table.recordFailure("a", now: start + .seconds(61))
        #expect(table.retryAfter("a", now: start + .seconds(61)) == nil)
        // Checks under way count: at most `limit` at once per peer.
        for _ in 0..<5 { table.begin("c", now: start) }
        #expect(table.retryAfter("c", now: start) == .seconds(1))
        table.end("c", failed: false, now: start)
        #expect(table.retryAfter("c", now: start) == nil)
    }

    @Test("the failure table is bounded, and a peer with nothing counted takes no room")
    func failureTableBounded() {
        var table = LoginFailures(limit: 5, window: .seconds(60), capacity: 100)
        let now = ContinuousClock.now
        for peer in 0..<1_000 { table.recordFailure("10.0.\(peer / 256).\(peer % 256)", now: now) }
        #expect(table.count == 100)
        table.begin("x", now: now)
        #expect(table.count == 100)
        // Its check succeeded: nothing is counted for it any more (the oldest entry made room).
        table.end("x", failed: false, now: now)
        #expect(table.count == 99)
        #expect(table.retryAfter("x", now: now) == nil)
    }

    @Test("5 wrong passwords: the 6th request gets 429 with Retry-After, without a check; another peer still gets in")
    func tooManyFailures() async throws {
        let logins = AdminLogins(.basic(credentials: ["admin:\(Hashes.bcrypt2y)", "ops:plain"]), logger: Logger(label: "test"))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        for attempt in 0..<5 {
            if attempt % 2 == 0 {
                let check = try #require(try logins.admit(authorization: authorization("admin:guess\(attempt)"), peer: "10.0.0.1"))
                #expect(try await check.run(on: loop).get()?.status == .unauthorized)
            } else {
                // Plain lines count too.
                #expect(throws: HTTPError.self) { try logins.admit(authorization: authorization("ops:guess\(attempt)"), peer: "10.0.0.1") }
            }
        }
        for credentials in ["admin:right-2y", "ops:plain", "admin:guess"] {
            let error = try #require(throws: HTTPError.self) { try logins.admit(authorization: authorization(credentials), peer: "10.0.0.1") }
            #expect(error.status == .tooManyRequests)
            let retryAfter = try #require(error.headers.first { $0.0 == "Retry-After" }.flatMap { Int($0.1) })
            #expect((1...60).contains(retryAfter))
            #expect(error.message.contains("too many failed admin logins"))
        }
        #expect(logins.checks.count == 0)
        let other = try #require(try logins.admit(authorization: authorization("admin:right-2y"), peer: "10.0.0.2"))
        #expect(try await other.run(on: loop).get() == nil)
        #expect(try logins.admit(authorization: authorization("ops:plain"), peer: "10.0.0.3") == nil)
        await logins.shutdown()
    }

    @Test("past the bound on checks under way, one more is answered 503 with Retry-After at once")
    func globalBound() async throws {
        let logins = AdminLogins(.basic(credentials: ["admin:\(Hashes.bcrypt2y)"]), logger: Logger(label: "test"), checks: PasswordChecks(threads: 1, capacity: 2))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let first = try #require(try logins.admit(authorization: authorization("admin:a"), peer: "10.0.0.1"))
        let second = try #require(try logins.admit(authorization: authorization("admin:b"), peer: "10.0.0.2"))
        let error = try #require(throws: HTTPError.self) { try logins.admit(authorization: authorization("admin:c"), peer: "10.0.0.3") }
        #expect(error.status == .serviceUnavailable)
        #expect(error.headers.contains { $0 == ("Retry-After", "1") })
        _ = try await first.run(on: loop).get()
        _ = try await second.run(on: loop).get()
        #expect(logins.checks.count == 0)
        let late = try #require(try logins.admit(authorization: authorization("admin:right-2y"), peer: "10.0.0.3"))
        await logins.shutdown()
        // A check that starts once the pool is stopped is answered, once, with 503.
        #expect(try await late.run(on: loop).get()?.status == .serviceUnavailable)
        #expect(logins.checks.count == 0)
    }

    // MARK: Over HTTP

    /// bcrypt at cost 10: some tens of milliseconds, long enough to be under way when the
    /// next request or the client's close arrives.
    static let slowHash = #"$2y$10$F3fDgxO2Ddu6PlCXNx3Qg.kCy7ciwpzI5zGgXstfYVbpZggw.XYGu"#
    static let configuration = ServerConfiguration.test(admin: .basic(credentials: ["admin:\(slowHash)"]))

    @Test("pipelined after a request being checked, the next requests wait, and every answer comes once, in order")
    func pipelined() async throws {
        try await withServer(Self.configuration) { server in
            let connection = try await server.connect()
            let right = [("Authorization", authorization("admin:slow-2y"))]
            let futures = [
                connection.send(TestRequest(.GET, "/resources", headers: right)),
                connection.send(TestRequest(.GET, "/health")),
                connection.send(TestRequest(.GET, "/resources", headers: [("Authorization", authorization("admin:wrong"))])),
                connection.send(TestRequest(.GET, "/resources", headers: right)),
                connection.send(TestRequest(.POST, "/locks/pipelined", body: #"{"title": "t", "lifetime": 30, "wait": 0}"#)),
            ]
            var statuses: [Int] = []
            for future in futures { statuses.append(try await future.get().status) }
            #expect(statuses == [200, 200, 401, 200, 201])
            let unauthorized = try await server.request(.GET, "/resources", headers: [("Authorization", authorization("admin:wrong"))])
            #expect(unauthorized.header("WWW-Authenticate") == "Basic realm=\"rdlm\"")
            await connection.close()
        }
    }

    @Test("a client that leaves while its check runs: the daemon carries on, and the delete it asked for is not made")
    func clientLeaves() async throws {
        // bcrypt at cost 13: about a second, so the close surely comes while it runs.
        let slower = #"$2y$13$o0Il6A83l3nzij5fG0sfceROwntO10HFv1oOiX3xKISudYBzdeUTi"#
        try await withServer(.test(admin: .basic(credentials: ["admin:\(slower)"]))) { server in
            _ = try await server.acquireLock("kept")
            let connection = try await server.connect()
            let credentials = [("Authorization", authorization("admin:slow-2y"))]
            _ = connection.send(TestRequest(.DELETE, "/resources/kept", headers: credentials))
            try await eventually("the check is under way") { server.server.passwordChecksUnderWay == 1 }
            await connection.close()
            // The check ends, finds no client, and nothing is answered or deleted.
            try await eventually("the check under way ended") { server.server.passwordChecksUnderWay == 0 }
            let listed = try await server.request(.GET, "/resources/kept", headers: credentials)
            #expect(listed.status == 200)
            #expect(listed.body.contains("\"uid\""), "\(listed)")
        }
    }
}
