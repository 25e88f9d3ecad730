import Foundation
import RDLMClient

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A lock URL given on the command line, as `rdlm acquire` printed it.
struct LockURL {
    var url: URL
    var resource: String

    /// Accepts an absolute lock URL, or its path (`/locks/backup/9d2c…`) on `server`.
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
        resource = String(parts[parts.count - 2])
    }

    /// `http://host:port`, the server that issued the lock.
    var origin: String {
        var components = URLComponents()
        components.scheme = url.scheme
        components.host = url.host
        components.port = url.port
        return components.string ?? url.absoluteString
    }
}

/// Release and refresh by URL, with plain HTTP.
///
/// `RDLMClient.release(_:)` and `refresh(_:lifetime:)` take a `Lock`, which only an acquire
/// in the same process can make (its initialiser is internal), while `rdlm release URL`
/// runs in a later process than the `rdlm acquire` that printed the URL. Until the client
/// library can rebuild a `Lock` from a URL, these two requests go through URLSession.
enum LockURLRequest {
    /// `DELETE` the lock: 204 (or 200) when it was released.
    static func release(_ lock: LockURL) async throws(CLIFailure) {
        let (status, body) = try await send("DELETE", lock, body: nil, doing: "release")
        guard status == 204 || status == 200 else {
            throw failure(status: status, body: body, doing: "release \(lock.url.absoluteString)")
        }
    }

    /// `PATCH` the lock, renewing its lease: the server's lock document on success.
    static func refresh(_ lock: LockURL, lifetime: Duration?) async throws(CLIFailure) -> Data {
        let body = lifetime.map { "{\"lifetime\": \(String(format: "%.6f", $0.seconds))}" }
        let (status, answer) = try await send("PATCH", lock, body: body, doing: "refresh")
        guard status == 200 else {
            throw failure(status: status, body: answer, doing: "refresh \(lock.url.absoluteString)")
        }
        return answer
    }

    private static func send(
        _ method: String, _ lock: LockURL, body: String?, doing what: String
    ) async throws(CLIFailure) -> (Int, Data) {
        var request = URLRequest(url: lock.url, timeoutInterval: 30)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        do {
            let (data, response) = try await session.data(for: request)
            guard let response = response as? HTTPURLResponse else {
                throw CLIFailure("\(what) \(lock.url.absoluteString): the answer was not HTTP", status: ExitStatus.protocolError)
            }
            return (response.statusCode, data)
        } catch let failure as CLIFailure {
            throw failure
        } catch {
            throw CLIFailure("\(what) \(lock.url.absoluteString): no answer from \(lock.origin): \(error.localizedDescription)",
                             status: ExitStatus.unreachable)
        }
    }

    /// The failure for an HTTP status other than success, with the server's message.
    private static func failure(status: Int, body: Data, doing what: String) -> CLIFailure {
        struct ErrorBody: Decodable { var error: String }
        let message = (try? JSONDecoder().decode(ErrorBody.self, from: body)).map { ": \($0.error)" } ?? ""
        switch status {
        case 404: return CLIFailure("\(what): not found (released, expired or deleted)", status: ExitStatus.notFound)
        case 409: return CLIFailure("\(what): the lock is still waiting, not held\(message)", status: ExitStatus.protocolError)
        case 400, 413: return CLIFailure("\(what): refused (HTTP \(status))\(message)", status: ExitStatus.usage)
        case 500...599: return CLIFailure("\(what): server error (HTTP \(status))\(message)", status: ExitStatus.serverError)
        default: return CLIFailure("\(what): unexpected answer (HTTP \(status))\(message)", status: ExitStatus.protocolError)
        }
    }
}
