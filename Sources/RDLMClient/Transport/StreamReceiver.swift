/// Where the body of a streamed answer (`GET /events`) goes, piece by piece as curl reads
/// it, on the curl thread. It only hands the bytes on (to an `AsyncStream`'s continuation,
/// which never blocks): parsing happens in the task that reads them, off the curl thread.
final class StreamReceiver: Sendable {
    /// How long the stream may bring no byte at all (not even a heartbeat comment) before
    /// curl abandons it as dead, in whole seconds (curl's `CURLOPT_LOW_SPEED_TIME`).
    let idleSeconds: Int
    private let deliver: @Sendable ([UInt8]) -> Void

    /// - Parameters:
    ///   - idleTimeout: see `idleSeconds`; rounded up to a second, at least one.
    ///   - deliver: called on the curl thread with each piece of the body, in order.
    init(idleTimeout: Duration, deliver: @escaping @Sendable ([UInt8]) -> Void) {
        idleSeconds = max(1, (idleTimeout.roundedUpMilliseconds + 999) / 1_000)
        self.deliver = deliver
    }

    func receive(_ bytes: UnsafeRawBufferPointer) {
        deliver(Array(bytes))
    }
}
