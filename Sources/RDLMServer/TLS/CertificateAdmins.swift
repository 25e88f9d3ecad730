import NIOSSL

/// `--tls-admin-subject`: which verified client certificates authorise admin requests.
///
/// A certificate's subject, here, is the Common Name (CN) of its subject distinguished
/// name (the last CN when it has several, as TLS hostname checks read it), compared
/// exactly, case and all. Only certificates that passed verification against
/// `--tls-client-ca` are ever looked at, so only that CA can issue an admin's name.
struct CertificateAdmins: Sendable {
    let commonNames: Set<String>

    init(_ commonNames: [String]) {
        self.commonNames = Set(commonNames)
    }

    /// The subject of a certificate, as the rule above reads it.
    static func subject(of certificate: NIOSSLCertificate) -> String? {
        certificate.subjectName.last(where: { $0.type == .commonName })?.value
    }

    func admits(_ certificate: NIOSSLCertificate?) -> Bool {
        guard !commonNames.isEmpty, let certificate, let subject = Self.subject(of: certificate) else { return false }
        return commonNames.contains(subject)
    }
}
