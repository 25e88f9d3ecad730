import Foundation
import NIOHTTP1
import Testing
@testable import RDLMServer

extension ServerTests {
    /// Contract Part 1: the administrative requests.
    @Suite("Admin requests")
    struct Admin {
        @Test("GET /resources lists the resources that have locks, as HAL")
        func listResources() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                _ = try await server.acquireLock("bar2")
                let response = try await server.request(.GET, "/resources")
                #expect(response.status == 200)
                #expect(response.header("Content-Type")?.hasPrefix("application/hal+json") == true)
                let body = try response.json()
                #expect(link(body, "self") == "/resources")
                let embedded = try #require(body["_embedded"] as? [String: Any], "\(body)")
                let resources = try #require(embedded["resources"] as? [[String: Any]])
                let entries = resources.map { ($0["name"] as? String ?? "", link($0, "self") ?? "") }
                #expect(entries.map(\.0).sorted() == ["bar2", "foo"])
                for (name, href) in entries { #expect(href == "/resources/\(name)") }
            }
        }

        @Test("GET /resources on an idle server lists none")
        func listNoResources() async throws {
            try await withServer { server in
                let response = try await server.request(.GET, "/resources")
                #expect(response.status == 200)
                let body = try response.json()
                #expect(link(body, "self") == "/resources")
                let resources = (body["_embedded"] as? [String: Any])?["resources"] as? [Any] ?? []
                #expect(resources.isEmpty)
            }
        }

        @Test("GET /resources/{r} embeds the active lock first, then the waiters in order")
        func resourceLocks() async throws {
            try await withServer { server in
                let holder = try await server.acquireLock("foo", title: "holder")
                let first = try await server.park("foo", title: "first")
                let second = try await server.park("foo", title: "second")
                let response = try await server.request(.GET, "/resources/foo")
                #expect(response.status == 200)
                #expect(response.header("Content-Type")?.hasPrefix("application/hal+json") == true)
                let body = try response.json()
                #expect(body["name"] as? String == "foo")
                #expect(link(body, "self") == "/resources/foo")
                let locks = try #require((body["_embedded"] as? [String: Any])?["locks"] as? [[String: Any]])
                #expect(locks.map { $0["title"] as? String } == ["holder", "first", "second"])
                #expect(locks.map { $0["active"] as? Bool } == [true, false, false])
                #expect(link(locks[0], "self") == holder)
                #expect(locks.allSatisfy { ($0["uid"] as? String)?.count == 32 })
                #expect(locks.allSatisfy { link($0, "self") == "/locks/foo/\($0["uid"] as? String ?? "")" })
                await first.connection.close()
                await second.connection.close()
            }
        }

        @Test("GET /resources/{r} without locks is 200 with no embedded locks")
        func resourceWithoutLocks() async throws {
            try await withServer { server in
                let response = try await server.request(.GET, "/resources/nothing")
                #expect(response.status == 200)
                let body = try response.json()
                #expect(body["name"] as? String == "nothing")
                #expect(link(body, "self") == "/resources/nothing")
                let locks = (body["_embedded"] as? [String: Any])?["locks"] as? [Any] ?? []
                #expect(locks.isEmpty)
            }
        }

        @Test("DELETE /resources/{r} drops the active lock and answers 204")
        func deleteResource() async throws {
            try await withServer { server in
                let holder = try await server.acquireLock("foo")
                #expect(try await server.request(.DELETE, "/resources/foo").status == 204)
                #expect(try await server.request(.GET, holder).status == 404)
                #expect(try await server.acquire("foo", wait: 0).status == 201)
            }
        }

        @Test("DELETE /resources/{r} without locks is 404")
        func deleteResourceWithoutLocks() async throws {
            try await withServer { server in
                let response = try await server.request(.DELETE, "/resources/foo")
                #expect(response.status == 404)
                #expect(!response.body.isEmpty)
            }
        }

        @Test("DELETE /resources on an idle server is 204")
        func deleteAllIdle() async throws {
            try await withServer { server in
                let response = try await server.request(.DELETE, "/resources")
                #expect(response.status == 204)
            }
        }

        @Test("DELETE /resources drops every lock with 204, and every waiter gets 409")
        func deleteAll() async throws {
            try await withServer { server in
                let foo = try await server.acquireLock("foo")
                let bar = try await server.acquireLock("bar")
                let fooWaiter = try await server.park("foo")
                let barWaiter = try await server.park("bar")
                #expect(try await server.request(.DELETE, "/resources").status == 204)
                #expect(try await fooWaiter.answer().status == 409)
                #expect(try await barWaiter.answer().status == 409)
                #expect(try await server.request(.GET, foo).status == 404)
                #expect(try await server.request(.GET, bar).status == 404)
                #expect(server.service.lockCount == 0)
                await fooWaiter.connection.close()
                await barWaiter.connection.close()
            }
        }
    }

    /// The three modes of `--admin_userpass_file`.
    @Suite("Admin authentication")
    struct AdminAuth {
        /// The four admin requests, on a resource `foo` that has a lock, so each can succeed.
        static func adminRequests(_ server: TestServer, headers: [(String, String)]) async throws -> [TestResponse] {
            [
                try await server.request(.GET, "/resources", headers: headers),
                try await server.request(.GET, "/resources/foo", headers: headers),
                try await server.request(.DELETE, "/resources/foo", headers: headers),
                try await server.request(.DELETE, "/resources", headers: headers),
            ]
        }

        @Test("open mode: admin requests need no credentials")
        func open() async throws {
            try await withServer(.test(admin: .open)) { server in
                _ = try await server.acquireLock("foo")
                let statuses = try await Self.adminRequests(server, headers: []).map(\.status)
                #expect(statuses == [200, 200, 204, 204])
            }
        }

        @Test("forbidden mode: all four admin requests get 403, credentials or not")
        func forbidden() async throws {
            try await withServer(.test(admin: .forbidden)) { server in
                _ = try await server.acquireLock("foo")
                for headers in [[], [("Authorization", basic("admin:secret"))]] {
                    let responses = try await Self.adminRequests(server, headers: headers)
                    #expect(responses.map(\.status) == [403, 403, 403, 403])
                    #expect(responses.allSatisfy { !$0.body.isEmpty })
                }
                #expect(server.service.lockCount == 1)
            }
        }

        static let basicMode = ServerConfiguration.test(admin: .basic(credentials: ["admin:secret", "ops:hunter2"]))

        @Test("basic mode: the right credentials let all four admin requests through", arguments: ["admin:secret", "ops:hunter2"])
        func basicRight(credentials: String) async throws {
            try await withServer(Self.basicMode) { server in
                _ = try await server.acquireLock("foo")
                let statuses = try await Self.adminRequests(server, headers: [("Authorization", basic(credentials))]).map(\.status)
                #expect(statuses == [200, 200, 204, 204])
            }
        }

        @Test("basic mode: 401 with WWW-Authenticate Basic realm without credentials")
        func basicMissing() async throws {
            try await expectUnauthorized(headers: [])
        }

        @Test("basic mode: 401 with a wrong password")
        func basicWrongPassword() async throws {
            try await expectUnauthorized(headers: [("Authorization", basic("admin:wrong"))])
        }

        @Test("basic mode: 401 with an unknown user")
        func basicUnknownUser() async throws {
            try await expectUnauthorized(headers: [("Authorization", basic("mallory:secret"))])
        }

        @Test("basic mode: 401 when the credentials are not base64")
        func basicNotBase64() async throws {
            try await expectUnauthorized(headers: [("Authorization", "Basic !!not*base64!!")])
        }

        @Test("basic mode: 401 when the decoded credentials have no colon")
        func basicNoColon() async throws {
            try await expectUnauthorized(headers: [("Authorization", "Basic " + Data("adminsecret".utf8).base64EncodedString())])
        }

        @Test("basic mode: 401 for a scheme other than Basic", arguments: ["Bearer YWRtaW46c2VjcmV0", "Digest username=\"admin\"", "YWRtaW46c2VjcmV0", "Basic"])
        func basicOtherScheme(authorization: String) async throws {
            try await expectUnauthorized(headers: [("Authorization", authorization)])
        }

        private func expectUnauthorized(headers: [(String, String)]) async throws {
            try await withServer(Self.basicMode) { server in
                _ = try await server.acquireLock("foo")
                for response in try await Self.adminRequests(server, headers: headers) {
                    #expect(response.status == 401, "\(response)")
                    let challenge = response.header("WWW-Authenticate") ?? ""
                    #expect(challenge.hasPrefix("Basic realm="), "WWW-Authenticate: \(challenge)")
                    #expect(!response.body.isEmpty)
                }
                #expect(server.service.lockCount == 1)
            }
        }

        @Test("lock requests never need credentials, whatever the admin mode", arguments: [
            AdminAuthentication.forbidden, .basic(credentials: ["admin:secret"]), .open,
        ])
        func lockEndpointsAreOpen(mode: AdminAuthentication) async throws {
            try await withServer(.test(admin: mode)) { server in
                #expect(try await server.request(.GET, "/").status == 200)
                let path = try await server.acquireLock("foo")
                #expect(try await server.request(.GET, path).status == 200)
                #expect(try await server.request(.PATCH, path).status == 200)
                #expect(try await server.request(.DELETE, path).status == 204)
            }
        }
    }

    /// The start-up flag: `yes`, `no`, or a userpass file.
    @Suite("Admin flag")
    struct AdminFlag {
        @Test("'yes' is open and 'no' is forbidden")
        func yesAndNo() throws {
            #expect(try AdminAuthentication.fromFlag("yes") == .open)
            #expect(try AdminAuthentication.fromFlag("no") == .forbidden)
        }

        @Test("a userpass file gives Basic credentials that the server then requires")
        func userpassFile() async throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("rdlm-admins-\(UUID().uuidString)")
            try "# admins\nadmin:secret\n\n  ops:hunter2  \n".write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let mode = try AdminAuthentication.fromFlag(file.path)
            #expect(mode == .basic(credentials: ["admin:secret", "ops:hunter2"]))
            try await withServer(.test(admin: mode)) { server in
                #expect(try await server.request(.GET, "/resources").status == 401)
                let allowed = try await server.request(.GET, "/resources", headers: [("Authorization", basic("ops:hunter2"))])
                #expect(allowed.status == 200)
            }
        }

        @Test("a missing or empty userpass file is a configuration error")
        func badFiles() throws {
            #expect(throws: ConfigurationError.self) { try AdminAuthentication.fromFlag("/nonexistent/rdlm-admins") }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("rdlm-admins-\(UUID().uuidString)")
            try "# nobody\n".write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            #expect(throws: ConfigurationError.self) { try AdminAuthentication.fromFlag(file.path) }
        }

        @Test("a missing userpass file says which file and why")
        func missingFileMessage() throws {
            let error = try #require(throws: ConfigurationError.self) { try AdminAuthentication.fromFlag("/nonexistent/rdlm-admins") }
            #expect(error.description == "cannot read admin userpass file '/nonexistent/rdlm-admins': No such file or directory")
        }

        @Test("a directory or a file that is not UTF-8 is a configuration error")
        func unreadableFiles() throws {
            let directory = try #require(throws: ConfigurationError.self) { try AdminAuthentication.fromFlag(NSTemporaryDirectory()) }
            #expect(directory.description.hasSuffix(": Is a directory"), "\(directory)")
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("rdlm-admins-\(UUID().uuidString)")
            try Data([0x61, 0x3A, 0xFF, 0x0A]).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let binary = try #require(throws: ConfigurationError.self) { try AdminAuthentication.fromFlag(file.path) }
            #expect(binary.description == "cannot read admin userpass file '\(file.path)': not valid UTF-8")
        }

        @Test("a byte order mark, tabs, CRLF and Unicode spaces around entries are not part of them")
        func blanksAroundEntries() throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("rdlm-admins-\(UUID().uuidString)")
            try Data("\u{FEFF}admin:secret\r\n\t ops:hunter2\u{00A0}\t\r\n \t \n  # comment\n".utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            #expect(try AdminAuthentication.fromFlag(file.path) == .basic(credentials: ["admin:secret", "ops:hunter2"]))
        }

        @Test("an entry without ':' is named by its number")
        func entryWithoutColon() throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("rdlm-admins-\(UUID().uuidString)")
            try "admin:secret\nnobody\n".write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let error = try #require(throws: ConfigurationError.self) { try AdminAuthentication.fromFlag(file.path) }
            #expect(error.description == "admin userpass file '\(file.path)', line 2 has no ':' (expected user:password or user:HASH)")
        }
    }

    /// Blanks around Basic credentials, which the strict base64 decoder itself refuses.
    @Suite("Basic credentials")
    struct BasicCredentials {
        @Test("the Authorization header: blanks around the credentials are allowed, not inside")
        func headerBlanks() {
            let mode = AdminAuthentication.basic(credentials: ["admin:secret"])
            #expect(mode.check(authorization: "Basic \tYWRtaW46c2VjcmV0 \t") == nil)
            #expect(mode.check(authorization: "Basic YWRtaW46 c2VjcmV0") == .unauthorized("Authorization credentials are not valid base64"))
            #expect(mode.check(authorization: "Basic YWRtaW4=") == .unauthorized("Authorization credentials must be user:password"))
            #expect(mode.check(authorization: "Basic YWRtaW46d3Jvbmc=") == .unauthorized("wrong admin credentials"))
        }
    }
}
