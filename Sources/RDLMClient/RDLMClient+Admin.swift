import Foundation

/// The administrative requests. The server may leave them open, refuse them
/// (``RDLMError/forbidden``) or ask for the configured
/// ``RDLMClient/Configuration/adminCredentials`` (``RDLMError/unauthorized``). Like every
/// request, they go to the next server when one gives no answer.
extension RDLMClient {
    /// The names of the resources that have locks, held or waiting, sorted.
    public func resources() async throws -> [String] {
        let answer = try await firstAnswer(path: "/resources") { makeRequest(.get, $0, admin: true) }
        let (response, request) = (answer.response, answer.request)
        try check(response, request, .admin)
        let document = try ResponseBody.decode(ResourcesDocument.self, from: response, request: request)
        return (document.embedded?.resources ?? []).map(\.name)
    }

    /// The locks on `resource`: the holders first, then the waiters in the order they will
    /// be served. Empty when the resource has no locks.
    /// - Parameter resource: the resource's name.
    public func locks(on resource: String) async throws -> [LockDetails] {
        try Self.validate(resource: resource)
        let answer = try await firstAnswer(path: "/resources/" + resource) { makeRequest(.get, $0, admin: true) }
        let (response, request) = (answer.response, answer.request)
        try check(response, request, .admin)
        let document = try ResponseBody.decode(ResourceDocument.self, from: response, request: request)
        return (document.embedded?.locks ?? []).compactMap { lock in
            lock.details(resource: resource, baseURL: answer.base, fallbackURL: URL(string: "\(answer.base)/locks/\(resource)/\(lock.uid)"))
        }
    }

    /// Deletes every lock on `resource`: the holder loses it (its refreshes and release
    /// find it gone) and every waiter is answered ``RDLMError/deleted``.
    /// - Parameter resource: the resource's name.
    /// - Throws: ``RDLMError/notFound`` when the resource had no locks.
    public func deleteResource(_ resource: String) async throws {
        try Self.validate(resource: resource)
        let answer = try await firstAnswer(path: "/resources/" + resource) { makeRequest(.delete, $0, admin: true) }
        let (response, request) = (answer.response, answer.request)
        try check(response, request, .admin)
    }

    /// Deletes every lock on every resource; waiters are answered ``RDLMError/deleted``.
    public func deleteAll() async throws {
        let answer = try await firstAnswer(path: "/resources") { makeRequest(.delete, $0, admin: true) }
        let (response, request) = (answer.response, answer.request)
        try check(response, request, .admin)
    }
}
