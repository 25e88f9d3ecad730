import Foundation
import NIOHTTP1
import Testing
@testable import RDLMServer

extension ServerTests {
    /// `GET /openapi.yaml`: the API's OpenAPI document, built into the binary.
    @Suite("The OpenAPI document")
    struct OpenAPI {
        /// docs/openapi.yaml in the source tree, the one copy of the document.
        static let documentInTree: String = {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let url = root.appendingPathComponent("docs/openapi.yaml")
            return (try? String(contentsOf: url, encoding: .utf8)) ?? "docs/openapi.yaml not readable at \(url.path)"
        }()

        @Test("GET /openapi.yaml serves docs/openapi.yaml byte for byte, as application/yaml, in every admin mode", arguments: [
            AdminAuthentication.open, .forbidden, .basic(credentials: ["admin:secret"]),
        ])
        func served(admin: AdminAuthentication) async throws {
            try await withServer(.test(admin: admin)) { server in
                let answer = try await server.request(.GET, "/openapi.yaml")
                #expect(answer.status == 200)
                #expect(answer.header("Content-Type") == "application/yaml")
                #expect(answer.body == Self.documentInTree, "the built-in document differs from docs/openapi.yaml: rebuild")
                #expect(answer.body.hasPrefix("openapi: 3.1."))
            }
        }

        @Test("HEAD /openapi.yaml has GET's headers and no body; other methods get 405 with Allow: GET, HEAD")
        func methods() async throws {
            try await withServer { server in
                let head = try await server.request(.HEAD, "/openapi.yaml")
                #expect(head.status == 200)
                #expect(head.header("Content-Type") == "application/yaml")
                #expect(head.header("Content-Length") == String(Self.documentInTree.utf8.count))
                #expect(head.body.isEmpty)
                for method in [HTTPMethod.POST, .DELETE, .PATCH, .PUT] {
                    let answer = try await server.request(method, "/openapi.yaml")
                    #expect(answer.status == 405, "\(method)")
                    #expect(answer.header("Allow") == "GET, HEAD", "\(method)")
                }
                for path in ["/openapi.yml", "/openapi.yaml/x", "/openapi.json", "/x/openapi.yaml"] {
                    #expect(try await server.request(.GET, path).status == 404, "\(path)")
                }
                // HEAD stays refused where it was: only the document answers it.
                #expect(try await server.request(.HEAD, "/health").status == 405)
            }
        }
    }
}
