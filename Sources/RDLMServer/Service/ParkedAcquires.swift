import NIOCore
import RDLMCore

/// Acquires waiting for an answer, by lock id. Whoever takes a promise out of here
/// completes it, so each is completed exactly once. Kept under the service's mutex.
struct ParkedAcquires {
    private var promises: [LockID: EventLoopPromise<AcquireOutcome>] = [:]

    var count: Int { promises.count }

    mutating func park(_ id: LockID, _ promise: EventLoopPromise<AcquireOutcome>) {
        promises[id] = promise
    }

    mutating func take(_ id: LockID) -> EventLoopPromise<AcquireOutcome>? {
        promises.removeValue(forKey: id)
    }

    mutating func takeAll() -> [EventLoopPromise<AcquireOutcome>] {
        defer { promises = [:] }
        return Array(promises.values)
    }

    mutating func compact() {
        promises.shrinkIfSparse()
    }
}
