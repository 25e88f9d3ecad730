import NIOCore

/// A change to a watched key.
public struct EtcdEvent: Sendable {
    public enum Kind: Sendable { case put, delete }
    public var kind: Kind
    /// The key after a put; after a delete, its key with the delete's revision as `modRevision`.
    public var kv: EtcdKeyValue
    /// The key before the change, when the watch asked for it and there was one.
    public var prevKV: EtcdKeyValue?

    public init(kind: Kind, kv: EtcdKeyValue, prevKV: EtcdKeyValue? = nil) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }
}

/// What a watch delivers, in order, on the client's event loop.
public enum EtcdWatchUpdate: Sendable {
    /// Changes, oldest first; `revision` is the last one's: the watcher has seen every change
    /// up to it. One revision's changes (a transaction's) come together.
    case events(revision: Int64, [EtcdEvent])
    /// No change up to `revision` beyond those delivered (etcd's progress notification).
    case progress(revision: Int64)
    /// The watch is over; nothing follows. `.compacted(rev)`: it fell behind etcd's history
    /// (read again and watch from that read's revision + 1). `.unavailable`: no member has
    /// served it for the client's `watchReconnectWindow`, so what the caller has seen may be
    /// stale; start a new watch from the last revision seen + 1 when etcd is back.
    case ended(EtcdError)
}

/// A running watch. It outlives the loss of the member it is on: it moves to another and
/// resumes after the last revision it delivered, so no change is lost or repeated.
public final class EtcdWatch: Sendable {
    private let stream: NIOLoopBoundBox<WatchStream>

    init(stream: NIOLoopBoundBox<WatchStream>) {
        self.stream = stream
    }

    /// Stops the watch. No update is delivered after it has run on the client's event loop
    /// (at once when called there).
    public func cancel() {
        let stream = self.stream
        if stream.eventLoop.inEventLoop {
            stream.value.cancel()
        } else {
            stream.eventLoop.execute { stream.value.cancel() }
        }
    }
}

extension EtcdClient {
    /// Watches `key`, or `[key, rangeEnd)`, from `startRevision` (0: from now on). `handler`
    /// runs on `eventLoop`, one update at a time, in revision order. With `deletesOnly`, etcd
    /// filters out puts before sending (its `NOPUT` filter): a watcher that needs only to
    /// learn what went costs etcd half the events on keys written once and deleted once.
    public func watch(
        key: String, rangeEnd: String?, startRevision: Int64, prevKV: Bool, deletesOnly: Bool = false,
        handler: @escaping @Sendable (EtcdWatchUpdate) -> Void
    ) -> EtcdWatch {
        let request = WatchStream.Request(key: key, rangeEnd: rangeEnd, startRevision: startRevision, prevKV: prevKV, deletesOnly: deletesOnly)
        let stream = NIOLoopBoundBox.makeBoxSendingValue(WatchStream(client: self, request: request, handler: handler), eventLoop: eventLoop)
        if eventLoop.inEventLoop {
            stream.value.start()
        } else {
            eventLoop.execute { stream.value.start() }
        }
        return EtcdWatch(stream: stream)
    }
}
