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
        for number in signals where catchable.contains(number) {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// Stops delivering; the signals stay ignored until the process exits.
    func cancel() {
        sources.forEach { $0.cancel() }
        sources = []
    }
}
