import Logging
import NIOHTTP1
import Testing
@testable import RDLMServer

@Suite("GET /ui, the admin page: its routes and its admin rule")
struct AdminPageTests {
    @Test("the page, its script and its style sheet have routes of their own", arguments: [
        ("/ui", AdminPage.document), ("/ui/", .document), ("/ui/app.js", .script), ("/ui/table.js", .tableScript), ("/ui/app.css", .styleSheet),
    ])
    func routes(path: String, page: AdminPage) throws {
        let route = try #require(Route(path: Substring(path)))
        #expect(try Endpoint(route, method: .GET) == .ui(page))
    }

    @Test("other paths under /ui are not found", arguments: ["/ui/app", "/ui/x.js", "/uix", "/ui//", "/ui/app.js/", "/u"])
    func notFound(path: String) {
        #expect(Route(path: Substring(path)) == nil)
    }

    @Test("each asset is embedded, with its type, no-cache and the policy")
    func assets() {
        for (page, type, marker) in [(AdminPage.document, "text/html; charset=utf-8", "<!doctype html>"),
                                     (.script, "text/javascript; charset=utf-8", "EventSource"),
                                     (.tableScript, "text/javascript; charset=utf-8", "showModal"),
                                     (.styleSheet, "text/css; charset=utf-8", "@media")] {
            let response = page.response
            #expect(response.status == .ok)
            #expect(response.contentType == type)
            #expect(response.body.contains(marker))
            #expect(response.headers.contains { $0 == ("Cache-Control", "no-cache") })
            #expect(response.headers.contains { $0 == ("Content-Security-Policy", AdminPage.contentSecurityPolicy) })
        }
    }

    private func admit(_ path: String, _ mode: AdminAuthentication) throws(HTTPError) -> Admission.Outcome {
        var configuration = ServerConfiguration()
        configuration.adminAuthentication = mode
        let admission = Admission(configuration: configuration, logger: Logger(label: "test"))
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "x")
        return try admission.admit(head)
    }

    @Test("with a userpass file the document asks for credentials (the browser prompts); its assets do not")
    func basicMode() throws {
        let mode = AdminAuthentication.basic(credentials: ["admin:secret"])
        do {
            _ = try admit("/ui", mode)
            Issue.record("/ui was served without credentials")
        } catch {
            #expect(error.status == .unauthorized)
            #expect(error.headers.contains { $0.0 == "WWW-Authenticate" })
        }
        guard case .admitted = try admit("/ui/app.js", mode) else { Issue.record("app.js needed credentials"); return }
    }

    @Test("with admin requests disabled the document still loads, to explain; /events is refused")
    func forbiddenMode() throws {
        guard case .admitted(let admitted) = try admit("/ui", .forbidden) else { Issue.record("not admitted"); return }
        #expect(admitted.endpoint == .ui(.document))
        #expect(throws: HTTPError.self) { try admit("/events", .forbidden) }
    }
}
