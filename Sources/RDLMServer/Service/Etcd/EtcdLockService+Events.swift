/// `GET /events` on etcd: the mirror of the lock space publishes every change, made through
/// any daemon; a daemon started without a hub (tests) has no mirror and answers 503.
extension EtcdLockService: LockEventSource {
    func subscribe(_ subscription: EventSubscription, to hub: LockEventHub, lastEventID: String?) throws(LockServiceUnavailable) -> LockEventHub.Opening {
        guard let mirror, mirror.hub === hub else {
            throw LockServiceUnavailable("this daemon keeps no event stream for its etcd lock space")
        }
        return try mirror.subscribe(subscription, lastEventID: lastEventID)
    }
}
