/// `GET /events` on etcd: the mirror of the lock space publishes every change, made through
/// any daemon; a daemon started without `--etcd-events` has no mirror and answers 503.
extension EtcdLockService: LockEventSource {
    func subscribe(_ subscription: EventSubscription, to hub: LockEventHub, lastEventID: String?) throws(LockServiceUnavailable) -> LockEventHub.Opening {
        guard let mirror, mirror.hub === hub else {
            throw LockServiceUnavailable("the event stream on the etcd backend needs rdlmd --etcd-events (a second watch of the lock space, which costs lock throughput)")
        }
        return try mirror.subscribe(subscription, lastEventID: lastEventID)
    }
}
