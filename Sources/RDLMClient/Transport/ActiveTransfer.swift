import CCurl

/// One request on the curl thread: its easy handle's settings and the answer being
/// collected. Its address is the userdata of curl's header and body callbacks, which run
/// on the curl thread inside `curl_multi_perform`; `CurlSession` keeps it alive until the
/// easy handle is removed.
final class ActiveTransfer {
    /// Answers larger than this are cut off as a transport error instead of filling memory.
    static let maximumBodyBytes = 64 << 20

    let id: UInt64
    let request: HTTPRequest
    let pending: PendingResponse?
    /// Where a streamed answer's body goes as it arrives (`GET /events`); nil: collected
    /// into `body`.
    let stream: StreamReceiver?
    let easy: UnsafeMutableRawPointer
    /// The status of the latest header block, 0 until a status line arrived.
    private(set) var status = 0
    private(set) var headers: [(name: String, value: String)] = []
    private(set) var body: [UInt8] = []
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// curl's copy of the header lines when the request has lines of its own
    /// (`HTTPRequest.ownHeaders`), freed with this transfer, after its handle left the
    /// multi handle.
    var ownHeaderList: UnsafeMutablePointer<curl_slist>?

    init(_ transfer: Transfer, easy: UnsafeMutableRawPointer) {
        id = transfer.id
        request = transfer.request
        pending = transfer.pending
        stream = transfer.stream
        self.easy = easy
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        errorBuffer.deallocate()
        curl_slist_free_all(ownHeaderList)
    }

    /// Sets the request's options on its easy handle. A handle kept from an earlier
    /// transfer is not reset (`curl_easy_reset` frees and rebuilds every setting, a large
    /// part of curl's work per request): every option a transfer can change is set again
    /// here, the method ones included, and the fixed ones only on a new handle.
    /// - Parameters:
    ///   - isNewHandle: the handle comes from `curl_easy_init`.
    ///   - headerList: the header lines, owned by the session and alive while curl uses them.
    func configure(isNewHandle: Bool, headerList: UnsafeMutablePointer<curl_slist>?) {
        if isNewHandle {
            rdlm_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
            rdlm_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
            // A parked waiter's connection is idle for as long as it waits: let TCP notice a
            // peer that vanished.
            rdlm_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
            // A session's handles serve one client, whose TLS files never change.
            if let tls = request.tls {
                if let path = tls.caBundle { rdlm_curl_easy_setopt_string(easy, CURLOPT_CAINFO, path) }
                if let path = tls.clientCertificate { rdlm_curl_easy_setopt_string(easy, CURLOPT_SSLCERT, path) }
                if let path = tls.clientKey { rdlm_curl_easy_setopt_string(easy, CURLOPT_SSLKEY, path) }
            }
            rdlm_curl_easy_setopt_write_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
                let transfer = Unmanaged<ActiveTransfer>.fromOpaque(userdata!).takeUnretainedValue()
                let length = size * count
                transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
                return length
            }
            rdlm_curl_easy_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
                let transfer = Unmanaged<ActiveTransfer>.fromOpaque(userdata!).takeUnretainedValue()
                return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
            }
        }
        rdlm_curl_easy_setopt_string(easy, CURLOPT_URL, request.url)
        if let stream {
            // A stream has no end to wait for: no limit on the whole exchange, but curl gives
            // up on one that brought no byte for the stream's idle time (heartbeats count).
            rdlm_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, 0)
            rdlm_curl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1)
            rdlm_curl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, stream.idleSeconds)
        } else {
            rdlm_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, request.timeout.roundedUpMilliseconds)
            rdlm_curl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, 0)
        }
        rdlm_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.roundedUpMilliseconds)
        rdlm_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        rdlm_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)

        // HTTPGET first: it makes the handle a GET again whatever the last transfer was.
        rdlm_curl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        rdlm_curl_easy_setopt_pointer(easy, CURLOPT_CUSTOMREQUEST, nil)
        switch request.method {
        case .get:
            break
        case .delete:
            rdlm_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, "DELETE")
        case .post, .patch:
            if request.method == .patch {
                rdlm_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, "PATCH")
            }
            let body = request.body ?? []
            rdlm_curl_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.count)
            // COPYPOSTFIELDS copies the bytes, so the array need not outlive this call.
            _ = body.withUnsafeBufferPointer { bytes in
                if let base = bytes.baseAddress, !bytes.isEmpty {
                    rdlm_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                } else {
                    rdlm_curl_easy_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, "")
                }
            }
        }

        let userdata = Unmanaged.passUnretained(self).toOpaque()
        rdlm_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata)
        rdlm_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata)
    }

    /// Detaches the handle from this transfer's error buffer, which goes with it, before
    /// the handle is kept for another transfer; so does a header list of its own.
    func detachFromHandle() {
        rdlm_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, nil)
        if ownHeaderList != nil { rdlm_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, nil) }
    }

    /// curl's detailed message when it wrote one, else the generic text of the code.
    func errorMessage(for code: CURLcode) -> String {
        let detail = String(cString: errorBuffer)
        return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    }

    /// The `Location` of a grant, once a 201's headers with one arrived, even if the rest
    /// of the answer never does: the server holds that lock from then on.
    var grantLocation: String? {
        guard status == 201, let location = HTTPResponse.value(of: "location", in: headers), !location.isEmpty else { return nil }
        return location
    }

    /// A piece of the body: to the stream when this transfer has one and the answer is a
    /// success, else into `body`. Returns what curl must see to carry on (the length), or 0
    /// to abort the transfer.
    private func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        if let stream, (200..<300).contains(status) {
            stream.receive(bytes)
            return bytes.count
        }
        guard body.count + bytes.count <= Self.maximumBodyBytes else { return 0 }
        body.append(contentsOf: bytes)
        return bytes.count
    }

    /// One header line, `Name: value\r\n`. A status line starts a new header block (after
    /// an interim `100 Continue`, only the final block counts). Parsed as ASCII bytes: this
    /// runs for every header of every answer, on the curl thread.
    private func receiveHeaderLine(_ line: UnsafeRawBufferPointer) {
        if line.starts(with: "HTTP/".utf8) {
            headers.removeAll(keepingCapacity: true)
            status = Self.statusCode(ofStatusLine: line)
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(unsafeUninitializedCapacity: colon) { name in
            for index in 0..<colon { name[index] = Self.lowercasedASCII(line[index]) }
            return colon
        }
        var start = colon + 1
        var end = line.endIndex
        while start < end, Self.isSpace(line[start]) { start += 1 }
        while end > start, Self.isSpace(line[end - 1]) { end -= 1 }
        headers.append((name, String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<end]), as: UTF8.self)))
    }

    /// The three digits after the first space of `HTTP/1.1 201 Created`; 0 if malformed.
    private static func statusCode(ofStatusLine line: UnsafeRawBufferPointer) -> Int {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")), line.endIndex - space > 3 else { return 0 }
        var code = 0
        for byte in line[(space + 1)...(space + 3)] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return 0 }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return code
    }

    private static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }
}
