import Testing
@testable import RDLMCore

// Shared helpers for the lock-table specifications. Time is always injected: every test
// starts from `let t0 = ContinuousClock.now` and only ever adds durations to it.

/// A readable, deterministic lock id: tests name their locks by small numbers.
func lid(_ n: UInt64) -> LockID {
    LockID(high: 0x00C0_FFEE, low: n)
}

/// An exclusive request (the only mode of the original RDLM).
func exclusive(
    _ title: String = "exclusive", lifetime: Duration = .seconds(60), wait: Duration = .seconds(30)
) -> LockRequest {
    LockRequest(title: title, lifetime: lifetime, wait: wait, mode: .exclusive)
}

/// A shared (reader) request.
func shared(
    _ title: String = "shared", lifetime: Duration = .seconds(60), wait: Duration = .seconds(30)
) -> LockRequest {
    LockRequest(title: title, lifetime: lifetime, wait: wait, mode: .shared)
}

extension LockTable.AcquireResult {
    /// The fencing token of an immediate grant.
    var token: FencingToken? {
        if case .granted(let lock) = self { return lock.fencingToken }
        return nil
    }
}

extension LockTable {
    /// Ids of `locks(on:)`, in its order.
    func ids(on resource: String) -> [LockID] {
        locks(on: resource).map(\.id)
    }

    /// Ids of the active locks of a resource, in grant order.
    func holderIDs(on resource: String) -> [LockID] {
        locks(on: resource).filter(\.isActive).map(\.id)
    }

    /// Ids of the waiting locks of a resource, in arrival order.
    func waiterIDs(on resource: String) -> [LockID] {
        locks(on: resource).filter { !$0.isActive }.map(\.id)
    }
}

/// An event by id, resource and token only: what most specifications state about one.
enum EventOutline: Equatable {
    case granted(LockID, resource: String, token: FencingToken)
    case waitTimedOut(LockID, resource: String)
    case waiterDeleted(LockID, resource: String)
    case expired(LockID, resource: String)
    case holderDeleted(LockID, resource: String)
}

extension LockEvent {
    var outline: EventOutline {
        switch self {
        case .granted(let lock): .granted(lock.id, resource: lock.resource, token: lock.fencingToken ?? 0)
        case .waitTimedOut(let id, let resource): .waitTimedOut(id, resource: resource)
        case .waiterDeleted(let id, let resource): .waiterDeleted(id, resource: resource)
        case .expired(let id, let resource): .expired(id, resource: resource)
        case .holderDeleted(let id, let resource): .holderDeleted(id, resource: resource)
        }
    }

    /// The id the event is about.
    var lockID: LockID {
        switch self {
        case .granted(let lock): lock.id
        case .waitTimedOut(let id, _), .waiterDeleted(let id, _), .expired(let id, _), .holderDeleted(let id, _): id
        }
    }

    /// The id of a `.granted` event, nil for any other event.
    var grantedID: LockID? {
        if case .granted(let lock) = self { return lock.id }
        return nil
    }
}

extension LockTable {
    /// `takeEvents()`, outlined.
    mutating func takeOutlines() -> [EventOutline] {
        takeEvents().map(\.outline)
    }
}

/// SplitMix64: a tiny seeded generator, so randomized tests are deterministic.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
