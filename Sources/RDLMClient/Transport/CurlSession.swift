import CCurl

/// What the curl thread owns: the transfers in flight and spare easy handles. Created,
/// used and closed on that thread only, so it needs no lock and is not `Sendable`.
final class CurlSession {
    private let multi: UnsafeMutableRawPointer
    /// For ids and the requests that release undelivered grants.
    private let transport: CurlTransport
    private var transfers: [UInt64: ActiveTransfer] = [:]
    private var transfersByHandle: [UnsafeMutableRawPointer: ActiveTransfer] = [:]
    /// Easy handles of finished transfers, ready for the next request with their settings
    /// kept (see `ActiveTransfer.configure`).
    private var spareHandles: [UnsafeMutableRawPointer] = []
    private static let maximumSpareHandles = 64
    /// curl's copy of each distinct set of header lines, built once: requests differ only
    /// in their content type and admin credentials, so there are a handful. Freed at close,
    /// after the last easy handle.
    private var headerLists: [[String]: UnsafeMutablePointer<curl_slist>] = [:]

    init(multi: UnsafeMutableRawPointer, transport: CurlTransport) {
        self.multi = multi
        self.transport = transport
    }

    var isIdle: Bool { transfers.isEmpty }

    /// Configures an easy handle for the transfer and adds it to the multi handle.
    func start(_ transfer: Transfer) {
        // Cancelled between being queued and now: never start it.
        if let pending = transfer.pending, pending.isFinished { return }
        let spare = spareHandles.popLast()
        guard let easy = spare ?? curl_easy_init() else {
            transfer.pending?.resume(with: .failure(RDLMError.transport(
                curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_easy_init failed", request: transfer.request.summary)))
            return
        }
        let active = ActiveTransfer(transfer, easy: easy)
        let headers: UnsafeMutablePointer<curl_slist>?
        if transfer.request.ownHeaders.isEmpty {
            headers = headerList(for: transfer.request.headers)
        } else {
            active.ownHeaderList = Self.makeHeaderList(transfer.request.headers + transfer.request.ownHeaders)
            headers = active.ownHeaderList
        }
        active.configure(isNewHandle: spare == nil, headerList: headers)
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else {
            let message = String(cString: curl_multi_strerror(added))
            discard(active, reuseHandle: false)
            transfer.pending?.resume(with: .failure(RDLMError.transport(
                curlCode: Int(added.rawValue), message: "curl_multi_add_handle: \(message)", request: transfer.request.summary)))
            return
        }
        transfers[transfer.id] = active
        transfersByHandle[easy] = active
    }

    /// Drops a cancelled transfer. Removing an unfinished easy handle makes curl close its
    /// connection, which is how the server learns that a parked waiter left.
    func cancel(_ id: UInt64) {
        guard let active = transfers[id] else { return }
        abandon(active, CancellationError())
    }

    /// Tells curl that `socket` is ready (`mask`: `CURL_CSELECT_*`), or that its timer is due
    /// (`socket` `CURL_SOCKET_TIMEOUT`), so it reads and writes what it can.
    func socketAction(_ socket: curl_socket_t, mask: Int32) {
        var running: Int32 = 0
        curl_multi_socket_action(multi, socket, mask, &running)
    }

    /// Delivers every transfer that curl has finished.
    func deliverFinished() {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                  let active = transfersByHandle[easy] else { continue }
            let result = message.pointee.data.result
            finish(active, result: result)
        }
    }

    /// Fails every transfer that a task awaits with `clientShutdown`; transfers nobody
    /// awaits carry on, and so do the releases of grants that had arrived meanwhile.
    func failAwaited() {
        for active in transfers.values where active.pending != nil {
            abandon(active, RDLMError.clientShutdown(request: active.request.summary))
        }
    }

    /// Abandons whatever is still in flight and frees every handle. Only transfers nobody
    /// awaits are left by now (`failAwaited` came first), and those are releases: no grant
    /// is lost here, though a release that did not finish in time is.
    func close() {
        for active in transfers.values {
            curl_multi_remove_handle(multi, active.easy)
            discard(active, reuseHandle: false)
            active.pending?.resume(with: .failure(RDLMError.clientShutdown(request: active.request.summary)))
        }
        transfers = [:]
        transfersByHandle = [:]
        for easy in spareHandles { curl_easy_cleanup(easy) }
        spareHandles = []
        for list in headerLists.values { curl_slist_free_all(list) }
        headerLists = [:]
    }

    /// The header list of `lines`, plus an empty `Expect:`, which stops curl from asking
    /// for 100-continue before a body.
    private func headerList(for lines: [String]) -> UnsafeMutablePointer<curl_slist>? {
        if let list = headerLists[lines] { return list }
        let list = Self.makeHeaderList(lines)
        headerLists[lines] = list
        return list
    }

    private static func makeHeaderList(_ lines: [String]) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines + ["Expect:"] {
            list = curl_slist_append(list, line)
        }
        return list
    }

    private func finish(_ active: ActiveTransfer, result: CURLcode) {
        curl_multi_remove_handle(multi, active.easy)
        forget(active)
        let outcome: Result<HTTPResponse, any Error>
        if result == CURLE_OK {
            var status = 0
            var connects = 0
            rdlm_curl_easy_getinfo_long(active.easy, CURLINFO_RESPONSE_CODE, &status)
            rdlm_curl_easy_getinfo_long(active.easy, CURLINFO_NUM_CONNECTS, &connects)
            outcome = .success(HTTPResponse(status: status, headers: active.headers, body: active.body, connectionsOpened: connects))
        } else {
            var sentBytes = 0
            rdlm_curl_easy_getinfo_long(active.easy, CURLINFO_REQUEST_SIZE, &sentBytes)
            let noAnswer = NoAnswer(curlCode: Int(result.rawValue), requestSent: sentBytes > 0, answerStarted: active.status != 0)
            outcome = .failure(RDLMError.transport(
                curlCode: Int(result.rawValue), message: active.errorMessage(for: result), request: active.request.summary,
                noAnswer: noAnswer))
        }
        discard(active, reuseHandle: result == CURLE_OK)
        settle(active, outcome)
    }

    /// Removes an unfinished transfer and fails it with `error`.
    private func abandon(_ active: ActiveTransfer, _ error: any Error) {
        curl_multi_remove_handle(multi, active.easy)
        forget(active)
        discard(active, reuseHandle: false)
        settle(active, .failure(error))
    }

    /// Hands the outcome to the task that awaits it. A grant that does not reach that task
    /// as a success (the task was cancelled first, or the transfer failed after the 201's
    /// headers) would hold its lock for nobody until the lease ends: release it now.
    private func settle(_ active: ActiveTransfer, _ outcome: Result<HTTPResponse, any Error>) {
        let delivered = active.pending?.resume(with: outcome) ?? false
        guard let location = active.grantLocation else { return }
        if delivered, case .success = outcome { return }
        guard let release = transport.releaseRequest(location, active.request) else { return }
        start(Transfer(id: transport.makeID(), request: release, pending: nil))
    }

    private func forget(_ active: ActiveTransfer) {
        transfers[active.id] = nil
        transfersByHandle[active.easy] = nil
    }

    /// Keeps the transfer's easy handle for the next request when it ended cleanly, else
    /// frees it.
    private func discard(_ active: ActiveTransfer, reuseHandle: Bool) {
        if reuseHandle && spareHandles.count < Self.maximumSpareHandles {
            active.detachFromHandle()
            spareHandles.append(active.easy)
        } else {
            curl_easy_cleanup(active.easy)
        }
    }
}
