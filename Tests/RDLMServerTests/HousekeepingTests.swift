import Logging
import NIOCore
import Synchronization
import Testing
@testable import RDLMServer

extension ServerTests {
    @Suite("Housekeeping: connection sweeps and memory trimming")
    struct Housekeeping {
        /// A handler that is not in a pipeline: enough to be linked into a sweeper.
        private static func handler() -> ConnectionHandler {
            let group = NIOSingletons.posixEventLoopGroup
            let service = LocalLockService(limits: .init(), lastFencingToken: 0, clock: EventLoopClock(loop: group.next()), logger: Logger(label: "test"))
            let sweepers = ConnectionSweepers(group: group, interval: .hours(1))
            sweepers.cancel()
            let context = RequestContext(
                service: service, configuration: ServerConfiguration(), metrics: ServerMetrics(backend: "test"), events: LockEventHub(settings: EventStreamSettings(), loop: group.next()), connections: { 0 },
                logger: Logger(label: "test"),
                sweepers: sweepers)
            return ConnectionHandler(shared: context)
        }

        private static func members(_ sweeper: ConnectionSweeper, first: ConnectionHandler?) -> [ObjectIdentifier] {
            var ids: [ObjectIdentifier] = []
            var next = first
            while let handler = next {
                ids.append(ObjectIdentifier(handler))
                next = handler.sweepNext
            }
            return ids
        }

        @Test("the sweeper's list stays linked whichever connection leaves first")
        func sweeperList() {
            let sweeper = ConnectionSweeper()
            let (a, b, c) = (Self.handler(), Self.handler(), Self.handler())
            sweeper.add(a)
            sweeper.add(b)
            sweeper.add(c)
            // Newest first: c, b, a. Remove the middle, then the head, then the last.
            #expect(Self.members(sweeper, first: c) == [c, b, a].map(ObjectIdentifier.init))
            sweeper.remove(b)
            #expect(c.sweepNext === a && a.sweepPrevious === c)
            #expect(b.sweepNext == nil && b.sweepPrevious == nil)
            sweeper.remove(c)
            #expect(a.sweepPrevious == nil)
            sweeper.add(b)
            #expect(b.sweepNext === a && a.sweepPrevious === b)
            sweeper.remove(a)
            sweeper.remove(b)
            #expect(a.sweepNext == nil && b.sweepNext == nil)
            // Sweeping an empty list, and removing twice, are harmless.
            sweeper.remove(b)
            sweeper.sweep(now: .now())
        }

        @Test("memory is trimmed once, on the check after the load fell by half and by 1,000")
        func trimsAfterAFall() {
            let load = Mutex(0)
            let trims = Mutex(0)
            let compactions = Mutex(0)
            let reclaimer = MemoryReclaimer(
                logger: Logger(label: "test"), load: { load.withLock { $0 } },
                compact: { compactions.withLock { $0 += 1 } },
                trim: {
                    trims.withLock { $0 += 1 }
                    return true
                })
            func check(at value: Int) -> Int {
                load.withLock { $0 = value }
                reclaimer.check()
                let count = trims.withLock { $0 }
                #expect(compactions.withLock { $0 } == count, "the table is compacted before each trim")
                return count
            }
            #expect(check(at: 0) == 0)
            #expect(check(at: 20_000) == 0)
            #expect(check(at: 12_000) == 0, "a fall of less than half")
            #expect(check(at: 9_000) == 0, "the fall is seen here...")
            #expect(check(at: 9_000) == 1, "...and memory is trimmed on the next check")
            #expect(check(at: 9_000) == 1, "once")
            #expect(check(at: 1_500) == 1, "from the new peak (9,000) this is seen...")
            #expect(check(at: 1_500) == 2, "...and trimmed")
            #expect(check(at: 800) == 2, "a fall of less than 1,000 is not worth a trim")
            #expect(check(at: 800) == 2)
        }
    }
}
