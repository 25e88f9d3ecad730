import ArgumentParser
import RDLMServer

extension RDLMDaemon {
    /// The TLS flags' combinations: the chain and key together, the rest only with them.
    func validateTLS() throws {
        guard (tlsCertificateChain == nil) == (tlsPrivateKey == nil) else {
            throw ValidationError("--tls-certificate-chain and --tls-private-key go together: give both, or neither for plain HTTP")
        }
        if tlsClientCa != nil, tlsCertificateChain == nil {
            throw ValidationError("--tls-client-ca needs --tls-certificate-chain and --tls-private-key")
        }
        if !tlsAdminSubject.isEmpty {
            guard tlsClientCa != nil else {
                throw ValidationError("--tls-admin-subject needs --tls-client-ca: only a verified client certificate has a subject to trust")
            }
            guard adminUserpassFile != "yes" else {
                throw ValidationError("--tls-admin-subject needs --admin-userpass-file 'no' or a file: with 'yes' every admin request is allowed anyway")
            }
            if let empty = tlsAdminSubject.first(where: \.isEmpty) {
                throw ValidationError("--tls-admin-subject must not be empty ('\(empty)')")
            }
        }
    }

    /// The TLS settings, with their files read once here so that a missing or unusable
    /// file stops the start with a message naming it.
    func tlsSettings() throws -> TLSSettings? {
        guard let tlsCertificateChain, let tlsPrivateKey else { return nil }
        let settings = TLSSettings(
            certificateChainPath: tlsCertificateChain, privateKeyPath: tlsPrivateKey,
            clientCAPath: tlsClientCa, adminSubjects: tlsAdminSubject)
        do {
            _ = try settings.makeContext()
        } catch {
            throw ValidationError("\(error)")
        }
        return settings
    }
}
