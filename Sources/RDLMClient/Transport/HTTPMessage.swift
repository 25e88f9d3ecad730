/// One HTTP request as the transport sends it.
struct HTTPRequest: Sendable {
    enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
        case patch = "PATCH"
        case delete = "DELETE"
    }

    var method: Method
    var url: String
    /// Complete header lines, `Name: value`, shared by many requests.
    var headers: [String]
    /// Header lines of this request alone (an acquire's `RDLM-Request-Id`): the transport
    /// builds curl's list of them per request instead of keeping it for reuse.
    var ownHeaders: [String] = []
    var body: [UInt8]?
    /// How long the whole exchange may take, connecting included.
    var timeout: Duration
    var connectTimeout: Duration
    /// The client's TLS files (`Configuration.caBundle` and companions), the same for every
    /// request of one client; nil for none.
    var tls: TLSFiles? = nil

    /// `POST http://host/locks/name`, for error messages.
    var summary: String { "\(method.rawValue) \(url)" }
}

/// One complete HTTP answer.
struct HTTPResponse: Sendable {
    var status: Int
    /// The header fields in the order received, names lower-cased. An array, not a
    /// dictionary: an answer has a handful, and hashing them cost more than the search.
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// New connections this exchange opened (curl's `CURLINFO_NUM_CONNECTS`): 0 when it
    /// reused a kept-alive one.
    var connectionsOpened = 0

    /// The value of a header; the last one wins when a name repeats.
    func header(_ lowercasedName: String) -> String? {
        Self.value(of: lowercasedName, in: headers)
    }

    /// The value of the last field named `lowercasedName` in `headers`: also read while an
    /// answer is still arriving (`ActiveTransfer.grantLocation`).
    static func value(of lowercasedName: String, in headers: [(name: String, value: String)]) -> String? {
        headers.last { $0.name == lowercasedName }?.value
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so that a short positive duration never becomes 0,
    /// which curl reads as "no limit".
    var roundedUpMilliseconds: Int {
        let (seconds, attoseconds) = components
        let milliseconds = seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(clamping: max(1, milliseconds))
    }

    /// Seconds as a floating-point number, for JSON bodies and arithmetic.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}

/// The PEM files of a client's TLS: a CA bundle, a client certificate and its key.
struct TLSFiles: Sendable, Equatable {
    var caBundle: String?
    var clientCertificate: String?
    var clientKey: String?

    /// nil when the configuration names none of them.
    init?(_ configuration: RDLMClient.Configuration) {
        guard configuration.caBundle != nil || configuration.clientCertificate != nil || configuration.clientKey != nil else { return nil }
        caBundle = configuration.caBundle
        clientCertificate = configuration.clientCertificate
        clientKey = configuration.clientKey
    }
}
