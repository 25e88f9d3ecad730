import Logging
import NIOSSL
import Synchronization

/// The TLS context new connections get: the one read at start-up until SIGHUP reads the
/// files again. A connection keeps the context it was accepted with, so a reload never
/// touches established connections.
final class TLSContextStore: Sendable {
    let settings: TLSSettings
    let admins: CertificateAdmins
    private let current: Mutex<NIOSSLContext>

    init(settings: TLSSettings) throws {
        self.settings = settings
        self.admins = CertificateAdmins(settings.adminSubjects)
        self.current = Mutex(try settings.makeContext())
    }

    var context: NIOSSLContext { current.withLock { $0 } }

    /// Reads the files again; when they cannot be read or used, the context in force stays.
    func reload() throws {
        let fresh = try settings.makeContext()
        current.withLock { $0 = fresh }
    }
}
