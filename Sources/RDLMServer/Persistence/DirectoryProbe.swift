import Dispatch
import Glibc
import NIOCore

/// Whether files can still be created and written in the data directory, for `GET /ready`:
/// a directory removed, remounted read-only or out of space is found before a journal
/// write fails on it. The probe creates, writes and removes one small file, on a queue of
/// its own (never an event loop, never the journal's), shared as `SharedProbe` says.
enum DirectoryProbe {
    private static let queue = DispatchQueue(label: "rdlmd.journal.probe")

    static func make(directory: String) -> SharedProbe {
        let path = directory + "/.ready-probe"
        return SharedProbe { eventLoop in
            let promise = eventLoop.makePromise(of: String?.self)
            queue.async { promise.succeed(writeAndRemove(path)) }
            return promise.futureResult
        }
    }

    private static func writeAndRemove(_ path: String) -> String? {
        do {
            let fd = try DataFile.openForAppend(path)
            defer {
                close(fd)
                DataFile.remove(path)
            }
            try DataFile.writeAll(fd, [0x0A], path: path)
            return nil
        } catch {
            return error.description
        }
    }
}
