import NIOCore
import RDLMEtcd
import Synchronization

/// Group commit for etcd: write transactions that arrive while earlier ones are in flight
/// go out together, as the branches of one transaction (etcd 3.3+ nests them), so that many
/// requests share one round trip through the gateway and one raft entry.
///
/// A nested transaction's compares are all evaluated against the store as it was before the
/// whole transaction, so two requests on one resource must never share one: the second
/// could not see the first's key. Each batch therefore holds at most one transaction per
/// resource; the others wait for the next. All of a batch's writes get the same revision,
/// which is fine for fencing tokens: they increase per resource, and a resource has one
/// write per batch.
final class EtcdWriteBatcher: Sendable {
    private struct Entry: Sendable {
        var resource: String
        var txn: EtcdTxn
        var promise: EventLoopPromise<EtcdTxnResult>
    }

    private struct State: Sendable {
        var inFlight = 0
        var pending: [Entry] = []
    }

    /// Batches in flight at once: one being answered while the next fills.
    static let maxInFlight = 2
    /// Transactions per batch; etcd allows 128 operations per branch (`--max-txn-ops`).
    static let maxBatch = 100

    private let etcd: EtcdClient
    private let state = Mutex(State())

    init(etcd: EtcdClient) {
        self.etcd = etcd
    }

    /// Sends `txn`, which writes only keys of `resource`, alone or with others.
    func txn(_ txn: EtcdTxn, on resource: String) -> EventLoopFuture<EtcdTxnResult> {
        let promise = etcd.eventLoop.makePromise(of: EtcdTxnResult.self)
        let entry = Entry(resource: resource, txn: txn, promise: promise)
        let sendNow = state.withLock { state -> Bool in
            guard state.inFlight < Self.maxInFlight, state.pending.isEmpty else {
                state.pending.append(entry)
                return false
            }
            state.inFlight += 1
            return true
        }
        if sendNow { send([entry]) }
        return promise.futureResult
    }

    private func send(_ batch: [Entry]) {
        let answered: EventLoopFuture<[Result<EtcdTxnResult, any Error>]>
        if batch.count == 1 {
            answered = etcd.txn(batch[0].txn).map { [.success($0)] }
        } else {
            answered = etcd.txn(EtcdTxn(success: batch.map { .txn($0.txn) })).map { outer in
                batch.indices.map { index -> Result<EtcdTxnResult, any Error> in
                    guard index < outer.responses.count, case .txn(let inner) = outer.responses[index] else {
                        return .failure(EtcdError.rejected("etcd answered a grouped transaction without its part \(index)"))
                    }
                    // A nested answer carries no header: its writes are at the batch's revision.
                    return .success(EtcdTxnResult(revision: outer.revision, succeeded: inner.succeeded, responses: inner.responses))
                }
            }
        }
        answered.whenComplete { result in
            switch result {
            case .success(let results):
                for (entry, result) in zip(batch, results) { entry.promise.completeWith(result) }
            case .failure(let error):
                for entry in batch { entry.promise.fail(error) }
            }
            self.next()
        }
    }

    /// A batch was answered: the next one takes the oldest waiting transaction of each
    /// resource, in order.
    private func next() {
        let batch = state.withLock { state -> [Entry] in
            state.inFlight -= 1
            guard !state.pending.isEmpty else { return [] }
            var batch: [Entry] = []
            var rest: [Entry] = []
            var resources: Set<String> = []
            for entry in state.pending {
                if batch.count < Self.maxBatch, resources.insert(entry.resource).inserted {
                    batch.append(entry)
                } else {
                    rest.append(entry)
                }
            }
            state.pending = rest
            state.inFlight += 1
            return batch
        }
        if !batch.isEmpty { send(batch) }
    }
}
