import Foundation

/// Requests that go to one server after another (see ``ServerList``).
extension RDLMClient {
    /// The HTTP answer of the server that gave one.
    struct Answer {
        var response: HTTPResponse
        /// The request as sent to that server.
        var request: HTTPRequest
        /// That server's base URL.
        var base: String
        /// An earlier server of this round may have received the request and acted on it
        /// before its answer was lost (``NoAnswer/answerLost``).
        var earlierAnswerLost: Bool
    }

    /// Sends `path` to the servers in turn (``ServerList/order(first:)``) until one gives an
    /// HTTP answer, of any status.
    /// - Parameters:
    ///   - path: the request's path, such as `/locks/backup`.
    ///   - first: a lock URL's own server, tried before the list.
    ///   - cancellable: as in `CurlTransport.execute`.
    ///   - makeRequest: the request for one server's full URL.
    /// - Throws: the last server's transport error when none answered, and every other
    ///   error at once (`CancellationError`, ``RDLMError/clientShutdown``, a TLS error).
    func firstAnswer(
        path: String, first: String? = nil, cancellable: Bool = true,
        _ makeRequest: (_ url: String) -> HTTPRequest
    ) async throws -> Answer {
        var earlierAnswerLost = false
        var lastFailure: RDLMError?
        for base in servers.order(first: first) {
            let request = makeRequest(base + path)
            do {
                let response = try await transport.execute(request, cancellable: cancellable)
                servers.answered(by: base)
                return Answer(response: response, request: request, base: base, earlierAnswerLost: earlierAnswerLost)
            } catch let error as RDLMError where error.noAnswer != nil {
                earlierAnswerLost = earlierAnswerLost || error.noAnswer == .answerLost
                lastFailure = error
            }
        }
        // The list has at least one server (`init` checks), so a failure was recorded.
        throw lastFailure!
    }

    /// Sends a request about the lock at `url` to its own server, then, when that one gives
    /// no answer, the same path (`/locks/R/uid`) to the other servers: they share the lock
    /// space. A URL without `/locks/` goes to its own server only.
    func firstAnswer(
        about url: URL, cancellable: Bool = true, _ makeRequest: (_ url: String) -> HTTPRequest
    ) async throws -> Answer {
        let text = url.absoluteString
        guard let (origin, path) = Self.split(lockURL: text) else {
            let request = makeRequest(text)
            let response = try await transport.execute(request, cancellable: cancellable)
            return Answer(response: response, request: request, base: text, earlierAnswerLost: false)
        }
        return try await firstAnswer(path: path, first: origin, cancellable: cancellable, makeRequest)
    }

    /// A lock URL's server and its path from `/locks/` on; nil for a URL without `/locks/`.
    static func split(lockURL text: String) -> (server: String, path: String)? {
        guard let range = text.range(of: "/locks/") else { return nil }
        return (String(text[..<range.lowerBound]), String(text[range.lowerBound...]))
    }

    /// A 503 that means: this acquire (by its `RDLM-Request-Id`) is still waiting on the
    /// connection of an earlier attempt, whose answer this client lost. The daemon's message
    /// names the header; `requestInProgress` is the name of the refusal in its code.
    static func isRequestInProgress(_ response: HTTPResponse) -> Bool {
        guard response.status == 503 else { return false }
        let body = String(decoding: response.body, as: UTF8.self)
        return body.contains(RequestID.header) || body.contains("requestInProgress")
    }
}
