import NIOCore
import RDLMWire

/// One request's life: the member it is on, its deadline, and what it may do after a
/// failure. Lives on the client's event loop.
final class EtcdCall {
    private let client: EtcdClient
    private let path: String
    private let body: String
    /// Reads, and writes etcd applies the same way twice (a keep-alive): resent on any failure.
    private let idempotent: Bool
    private let promise: EventLoopPromise<GatewayObject>
    private let deadline: NIODeadline
    private var endpoint: Int
    private var deadlineTask: Scheduled<Void>?
    private var attemptTask: Scheduled<Void>?
    /// The connection an exchange is open on, to close when the deadline passes.
    private var inFlight: GatewayConnection?
    private var sentOnce = false
    private var lastReason = "no answer"
    private var triesThisRound = 0
    private var round = 0
    private var isFinished = false

    init(client: EtcdClient, path: String, body: String, idempotent: Bool) {
        self.client = client
        self.path = path
        self.body = body
        self.idempotent = idempotent
        self.promise = client.eventLoop.makePromise()
        self.deadline = .now() + TimeAmount(client.requestTimeout)
        self.endpoint = client.preferredEndpoint()
    }

    func start() -> EventLoopFuture<GatewayObject> {
        guard !client.state.value.isShutDown else {
            return client.eventLoop.makeFailedFuture(EtcdError.unavailable("client shut down"))
        }
        deadlineTask = client.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.deadlinePassed() }
        attempt()
        return promise.futureResult
    }

    private var endpointName: String { "\(client.endpoints[endpoint])" }

    private func attempt() {
        guard !isFinished else { return }
        let pool = client.state.value.pools[endpoint]
        pool.lease().assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                guard !self.isFinished else { return pool.release(connection, reusable: true) }
                self.send(on: connection, pool: pool)
            case .failure(let error):
                self.failedBeforeSending(self.describe(error))
            }
        }
    }

    private func send(on connection: GatewayConnection, pool: GatewayConnectionPool) {
        let exchange = client.eventLoop.makePromise(of: GatewayResponse.self)
        connection.handler.begin(.unary(exchange))
        inFlight = connection
        // A read may not wait out the whole timeout on one member that has stopped answering
        // (paused, partitioned without a reset): it gets half, then the next member is asked.
        if idempotent {
            let attemptDeadline = min(deadline, .now() + TimeAmount(client.requestTimeout / 2))
            attemptTask = client.eventLoop.assumeIsolated().scheduleTask(deadline: attemptDeadline) {
                connection.handler.fail(.lostAfterSend("no answer from \(self.endpointName) in time"))
            }
        }
        connection.post(path, body: body, endpoint: pool.endpoint).assumeIsolated().whenSuccess { self.sentOnce = true }
        exchange.futureResult.assumeIsolated().whenComplete { result in
            self.attemptTask?.cancel()
            self.inFlight = nil
            switch result {
            case .success(let response):
                pool.release(connection, reusable: response.keepAlive)
                self.answered(response)
            case .failure(let error):
                pool.release(connection, reusable: false)
                if case ExchangeFailure.notSent(let reason) = error {
                    self.failedBeforeSending(reason)
                } else if self.idempotent {
                    self.failedBeforeSending(self.describe(error))
                } else {
                    self.client.endpointFailed(self.endpoint, self.describe(error))
                    self.finish(.failure(EtcdError.outcomeUnknown("\(self.endpointName): \(self.describe(error))")))
                }
            }
        }
    }

    private func answered(_ response: GatewayResponse) {
        guard !isFinished else { return }
        let bytes = Array(response.body.readableBytesView)
        let parsed = try? JSONParser.parse(bytes, maxDepth: 256)
        // A streaming RPC's error (a keep-alive's) comes in a 200 answer: {"error": {...}}.
        if response.status == .ok, case .object(let members)? = parsed, case .object(let error)? = members["error"] {
            let code = error["grpc_code"].flatMap { if case .number(let n) = $0 { Int(n) } else { nil } }
            let message = error["message"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "error"
            return failedAnswer(EtcdFailure.classify(code: code, message: message))
        }
        guard response.status == .ok else {
            var code: Int?
            var message = "HTTP \(response.status.code)"
            if case .object(let members)? = parsed {
                if case .number(let number)? = members["code"] { code = Int(number) }
                if case .string(let text)? = members["message"] ?? members["error"] { message = text }
            } else if response.status == .serviceUnavailable || response.status == .badGateway {
                code = 14
            }
            return failedAnswer(EtcdFailure.classify(code: code, message: message))
        }
        guard let parsed, let object = try? GatewayObject(parsed) else {
            return finish(.failure(EtcdError.rejected("\(endpointName) answered with something that is not a JSON object")))
        }
        finish(.success(object))
    }

    private func failedAnswer(_ failure: EtcdFailure) {
        switch failure {
        case .notApplied(let message):
            failedBeforeSending(message)
        case .maybeApplied(let message) where idempotent:
            failedBeforeSending(message)
        case .maybeApplied(let message):
            client.endpointFailed(endpoint, message)
            finish(.failure(EtcdError.outcomeUnknown("\(endpointName): \(message)")))
        case .compacted:
            finish(.failure(EtcdError.compacted(0)))
        case .rejected(let message):
            finish(.failure(EtcdError.rejected(message)))
        }
    }

    /// Nothing was applied on `endpoint`: the next member is asked. After every member has
    /// failed once, the next round waits a little (a leader election takes about a second).
    private func failedBeforeSending(_ reason: String) {
        guard !isFinished else { return }
        lastReason = "\(endpointName): \(reason)"
        client.endpointFailed(endpoint, reason)
        endpoint = (endpoint + 1) % client.endpoints.count
        triesThisRound += 1
        guard triesThisRound >= client.endpoints.count else { return attempt() }
        triesThisRound = 0
        round += 1
        let pause = TimeAmount.milliseconds(Int64(min(50 * round, 250)))
        guard NIODeadline.now() + pause < deadline else { return }  // the deadline will finish it
        client.eventLoop.assumeIsolated().scheduleTask(in: pause) { self.attempt() }
    }

    private func deadlinePassed() {
        guard !isFinished else { return }
        let timeout = "no answer within \(client.requestTimeout) (last: \(lastReason))"
        if let connection = inFlight {
            // Its answer, if one comes, belongs to nobody now: the connection goes.
            connection.channel.close(promise: nil)
            client.endpointFailed(endpoint, "timeout")
        }
        if sentOnce && !idempotent {
            finish(.failure(EtcdError.outcomeUnknown(timeout)))
        } else {
            finish(.failure(EtcdError.unavailable(timeout)))
        }
    }

    private func finish(_ result: Result<GatewayObject, Error>) {
        guard !isFinished else { return }
        isFinished = true
        deadlineTask?.cancel()
        attemptTask?.cancel()
        promise.completeWith(result)
    }

    private func describe(_ error: Error) -> String {
        switch error {
        case ExchangeFailure.notSent(let reason), ExchangeFailure.lostAfterSend(let reason): return reason
        default: return "\(error)"
        }
    }
}
