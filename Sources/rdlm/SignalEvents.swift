import Dispatch

/// Signals delivered as events on a queue, through DispatchSource: the process-wide action
/// is set to ignore first (as DispatchSource requires), and nothing runs in a signal
/// handler.
final class SignalEvents: @unchecked Sendable {
    // Only touched in init and cancel(), which the owner calls once.
    private var sources: [any DispatchSourceSignal] = []

    /// Starts delivering each of `signals` that the caller did not ignore to `handler`.
    init(_ signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "rdlm.signals")
        let catchable = InheritedState.defaultSignals
        // A source is registered with the kernel after resume() returns, on libdispatch's
        // own thread; a signal in between, with the action already set to ignore, would be
        // lost (the likely cause of one CI failure: a SIGINT sent just after `rdlm exec`
        // started its command never reached it). So this returns once every source is
        // registered.
        let registered = DispatchSemaphore(value: 0)
        for number in signals where catchable.contains(number) {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.setRegistrationHandler { registered.signal() }
            source.resume()
            sources.append(source)
        }
        for _ in sources {
            _ = registered.wait(timeout: .now() + .seconds(5))
        }
    }

    /// Stops delivering; the signals stay ignored until the process exits.
    func cancel() {
        sources.forEach { $0.cancel() }
        sources = []
    }
}
