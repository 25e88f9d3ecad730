import NIOCore
import Synchronization

/// One thing serving locks depends on, as `GET /ready` reports it: its name, whether it is
/// fine, and a short sentence for the operator. Never lock data: `/ready` needs no credentials.
public struct ReadinessCheck: Sendable, Equatable {
    public var name: String
    public var ok: Bool
    public var detail: String

    public init(_ name: String, ok: Bool, _ detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }

    /// `accepting`: whether the service takes new requests (not once shutdown began).
    static func accepting(shuttingDown: Bool) -> ReadinessCheck {
        shuttingDown
            ? ReadinessCheck("accepting", ok: false, "shutting down: new acquires get 503")
            : ReadinessCheck("accepting", ok: true, "accepting requests")
    }
}

extension Array where Element == ReadinessCheck {
    /// `{"ready": …, "checks": [{"name": …, "ok": …, "detail": …}, …]}`.
    var json: String {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("ready", allSatisfy(\.ok))
        writer.beginArray("checks")
        for check in self {
            writer.beginObject()
            writer.field("name", check.name)
            writer.field("ok", check.ok)
            writer.field("detail", check.detail)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.text
    }
}

/// A readiness probe that costs something (a file written, an etcd read), shared: its
/// result is reused for `reuse`, and callers that ask while it runs wait for the same one,
/// so that a flood of `/ready` requests costs at most one probe per `reuse`.
final class SharedProbe: Sendable {
    /// Runs the probe: nil when fine, else why not. Called once at a time.
    typealias Run = @Sendable (any EventLoop) -> EventLoopFuture<String?>

    private struct State {
        var last: (at: ContinuousClock.Instant, failure: String?)?
        var waiting: [EventLoopPromise<String?>] = []
    }

    private let reuse: Duration
    private let run: Run
    private let state = Mutex(State())

    init(reuse: Duration = .seconds(1), run: @escaping Run) {
        self.reuse = reuse
        self.run = run
    }

    /// nil when fine, else why not.
    func check(eventLoop: any EventLoop) -> EventLoopFuture<String?> {
        enum Next { case reuse(String?), wait, run }
        let promise = eventLoop.makePromise(of: String?.self)
        let next = state.withLock { state -> Next in
            if let last = state.last, ContinuousClock.now - last.at < reuse { return .reuse(last.failure) }
            state.waiting.append(promise)
            return state.waiting.count == 1 ? .run : .wait
        }
        switch next {
        case .reuse(let failure):
            promise.succeed(failure)
        case .wait:
            break
        case .run:
            run(eventLoop).whenComplete { result in
                let failure: String?
                switch result {
                case .success(let answer): failure = answer
                case .failure(let error): failure = "\(error)"
                }
                let waiting = self.state.withLock { state in
                    state.last = (ContinuousClock.now, failure)
                    defer { state.waiting = [] }
                    return state.waiting
                }
                for promise in waiting { promise.succeed(failure) }
            }
        }
        return promise.futureResult
    }
}
