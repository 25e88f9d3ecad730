import Foundation

/// A lock URL given on the command line, as `rdlm acquire` printed it.
struct LockURL {
    var url: URL

    /// Accepts an absolute lock URL, or its path (`/locks/backup/9d2c…`) on `server` (the
    /// first of the list; the client tries the others with that path if it gives no answer).
    init(_ text: String, server: String) throws(CLIFailure) {
        let absolute = text.hasPrefix("/") ? server + text : text
        guard let url = URL(string: absolute), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https" else {
            throw .usage("not a lock URL: '\(text)' (expected http://HOST:PORT/locks/RESOURCE/UID, as printed by 'rdlm acquire')")
        }
        let parts = url.path.split(separator: "/")
        guard parts.count >= 3, parts[parts.count - 3] == "locks" else {
            throw .usage("not a lock URL: '\(text)' (expected http://HOST:PORT/locks/RESOURCE/UID, as printed by 'rdlm acquire')")
        }
        self.url = url
    }
}
