import NIOSSL

/// `--tls-certificate-chain`, `--tls-private-key` and their companions: rdlmd serves HTTPS
/// (TLS 1.2 or later) instead of HTTP. The files are read at start-up and again on SIGHUP.
public struct TLSSettings: Sendable, Equatable {
    /// PEM: the server's certificate first, then any intermediates.
    public var certificateChainPath: String
    /// PEM: the private key of the chain's first certificate.
    public var privateKeyPath: String
    /// PEM: the CAs that sign client certificates. When set, every connection must present
    /// a certificate signed by one of them (mutual TLS).
    public var clientCAPath: String?
    /// With mutual TLS: the Common Names (see `CertificateAdmins`) whose certificates
    /// authorise admin requests without Basic credentials.
    public var adminSubjects: [String]

    public init(certificateChainPath: String, privateKeyPath: String, clientCAPath: String? = nil, adminSubjects: [String] = []) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.clientCAPath = clientCAPath
        self.adminSubjects = adminSubjects
    }

    /// Reads the files into a context for new connections.
    /// - Throws: `ConfigurationError` naming the file that cannot be read or used.
    public func makeContext() throws -> NIOSSLContext {
        let chain = try Self.certificates(certificateChainPath, flag: "--tls-certificate-chain")
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw ConfigurationError("cannot read --tls-private-key '\(privateKeyPath)': \(Self.reason(error, path: privateKeyPath)) (expected an unencrypted PEM private key)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAPath {
            let roots = try Self.certificates(clientCAPath, flag: "--tls-client-ca")
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(roots)
            // Tells clients which CA's certificate to present, when they hold several.
            configuration.sendCANameList = true
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            // BoringSSL refuses a key that is not the first certificate's.
            throw ConfigurationError("--tls-private-key '\(privateKeyPath)' is not the key of the first certificate in --tls-certificate-chain '\(certificateChainPath)'")
        } catch {
            throw ConfigurationError("cannot use --tls-certificate-chain '\(certificateChainPath)' with --tls-private-key '\(privateKeyPath)': \(error)")
        }
    }

    private static func certificates(_ path: String, flag: String) throws -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw ConfigurationError("cannot read \(flag) '\(path)': \(reason(error, path: path))")
        }
        guard !certificates.isEmpty else { throw ConfigurationError("\(flag) '\(path)' holds no PEM certificate") }
        return certificates
    }

    /// BoringSSL's errors do not say that a file is missing: `DataFile` does.
    private static func reason(_ error: Error, path: String) -> String {
        do {
            _ = try DataFile.readAll(path)
        } catch {
            return error.systemReason ?? error.description
        }
        return "not in PEM format (\(error))"
    }
}
