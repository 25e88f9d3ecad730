import CCurl
import Foundation
import Synchronization

/// The daemons one client talks to, which share one lock space, and which of them to ask
/// first.
///
/// A request goes to one server; only when that server gives no HTTP answer at all (see
/// ``NoAnswer``) does it go to the next, round-robin, each server at most once per request.
/// Any answer, a 503 included, ends the round: a daemon that answers 503 because it lost
/// its etcd quorum is right to, and trying elsewhere is the caller's choice.
final class ServerList: Sendable {
    /// The base URLs as text, without trailing slashes, in the configured order.
    let bases: [String]
    /// The index of the server that answered last. Later requests start there, so that a
    /// dead server costs one failed connection, not one per request.
    private let preferred = Atomic<Int>(0)

    /// - Parameter servers: at least one base URL.
    init(_ servers: [URL]) {
        bases = servers.map { url in
            var text = url.absoluteString
            while text.hasSuffix("/") { text.removeLast() }
            return text
        }
    }

    /// The server requests start at now.
    var current: String { bases[preferred.load(ordering: .relaxed)] }

    /// The servers to try for one request, each once: `first` (a lock URL's own server,
    /// which need not be in the list) when given, then the list round-robin from the server
    /// that answered last.
    func order(first: String? = nil) -> [String] {
        let start = preferred.load(ordering: .relaxed)
        var order = bases.indices.map { bases[(start + $0) % bases.count] }
        if let first {
            order.removeAll { $0 == first }
            order.insert(first, at: 0)
        }
        return order
    }

    /// Notes that `base` answered: the next request starts there.
    func answered(by base: String) {
        if let index = bases.firstIndex(of: base) { preferred.store(index, ordering: .relaxed) }
    }
}

/// A request that got no HTTP answer in a way that makes another server worth trying, and
/// how far it got: that decides what a later answer from another server means.
enum NoAnswer: Sendable, Equatable {
    /// Nothing went out (the name did not resolve, the connection was refused or connecting
    /// timed out): no server saw the request.
    case notSent
    /// The request went out, or may have, and the connection then broke without a word:
    /// that server may have acted on it (a release may have released).
    case answerLost

    /// nil for failures that are no reason to try elsewhere: an answer whose status line
    /// came is an answer; a timeout after the request went out means the request's own time
    /// is spent; TLS, URL and memory errors would fail the same on every server.
    init?(curlCode: Int, requestSent: Bool, answerStarted: Bool) {
        guard !answerStarted else { return nil }
        switch UInt32(clamping: curlCode) {
        case CURLE_COULDNT_RESOLVE_HOST.rawValue, CURLE_COULDNT_CONNECT.rawValue:
            self = .notSent
        case CURLE_OPERATION_TIMEDOUT.rawValue where !requestSent:
            self = .notSent
        case CURLE_GOT_NOTHING.rawValue, CURLE_SEND_ERROR.rawValue, CURLE_RECV_ERROR.rawValue:
            self = .answerLost
        default:
            return nil
        }
    }
}

/// The `RDLM-Request-Id` of one acquire: 32 lowercase hex digits that the daemon makes the
/// lock's uid, so that the same acquire sent again (to another server, after a lost answer)
/// is the same request, never a second lock.
enum RequestID {
    static let header = "RDLM-Request-Id"

    /// 128 random bits. `SystemRandomNumberGenerator` reads the kernel's cryptographic
    /// source (`getrandom` on Linux), so ids of different clients never collide in practice.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next() as UInt64, generator.next() as UInt64]
        return words.map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
