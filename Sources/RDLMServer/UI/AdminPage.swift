/// The admin web page, `GET /ui`: one HTML document, its script and its style sheet, built
/// into the binary (SwiftPM's `embedInCode`), so an installed rdlmd needs no files beside it
/// and the page needs no network beyond the daemon. It holds no lock data: the script reads
/// `GET /events` and deletes through the lock and resource URLs, all on the page's origin.
enum AdminPage: Equatable, Sendable {
    /// `/ui` (and `/ui/`): the document.
    case document
    /// `/ui/app.js`: the state, kept from `/events`, and the connection's.
    case script
    /// `/ui/table.js`: the tables drawn from that state, and the deletes.
    case tableScript
    /// `/ui/app.css`
    case styleSheet

    /// The asset at `path`, or nil. Checked before the resource-name routing, which would
    /// refuse the dot in `app.js`; a path that does not start with `/ui` costs one compare.
    init?(path: Substring) {
        guard path.utf8.starts(with: "/ui".utf8) else { return nil }
        switch path {
        case "/ui", "/ui/": self = .document
        case "/ui/app.js": self = .script
        case "/ui/table.js": self = .tableScript
        case "/ui/app.css": self = .styleSheet
        default: return nil
        }
    }

    /// Only the document asks for admin credentials, so that in Basic mode the browser's
    /// own prompt appears when the page is opened (and its answer is then sent with
    /// `/events` and the deletes). The script and style sheet are the same for everyone.
    var asksAdminCredentials: Bool { self == .document }

    var response: Response {
        switch self {
        case .document: return Self.documentResponse
        case .script: return Self.scriptResponse
        case .tableScript: return Self.tableScriptResponse
        case .styleSheet: return Self.styleSheetResponse
        }
    }

    /// Nothing inline and nothing from elsewhere: the script and style sheet come from this
    /// origin, the script connects only to it, and no other site may frame the page.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    private static func asset(_ bytes: [UInt8], contentType: String) -> Response {
        Response(
            status: .ok,
            headers: [
                ("Cache-Control", "no-cache"),
                ("Content-Security-Policy", contentSecurityPolicy),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
            ],
            body: String(decoding: bytes, as: UTF8.self),
            contentType: contentType)
    }

    // Decoded once, at first use: answering the page then copies nothing but a reference.
    private static let documentResponse = asset(PackageResources.ui_html, contentType: "text/html; charset=utf-8")
    private static let scriptResponse = asset(PackageResources.app_js, contentType: "text/javascript; charset=utf-8")
    private static let tableScriptResponse = asset(PackageResources.table_js, contentType: "text/javascript; charset=utf-8")
    private static let styleSheetResponse = asset(PackageResources.app_css, contentType: "text/css; charset=utf-8")
}
