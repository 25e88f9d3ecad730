import CCurl

/// The sockets and the timer that curl asks to have watched (`CURLMOPT_SOCKETFUNCTION`,
/// `CURLMOPT_TIMERFUNCTION`), plus the transport's wake-up pipe, waited on with one
/// `poll`. With this, `curl_multi_socket_action` is told exactly which socket is ready, so
/// each event costs work for that socket only, not for every transfer in flight (a
/// thousand parked waiters cost nothing until their answer comes).
///
/// Lives on the curl thread: curl calls the callbacks from inside `curl_multi_*` calls made
/// there.
final class CurlSocketWatch {
    /// `CURL_CSELECT_*`: what a socket is ready for, as `curl_multi_socket_action` takes it.
    static let readyToRead: Int32 = 0x01
    static let readyToWrite: Int32 = 0x02
    static let failed: Int32 = 0x04
    /// `CURL_SOCKET_TIMEOUT`: the "socket" of a `curl_multi_socket_action` for curl's timer.
    static let timeoutSocket: curl_socket_t = -1

    private let wakeupFD: Int32
    /// What curl wants to know about each socket: `POLLIN`, `POLLOUT` or both.
    private var interests: [curl_socket_t: Int16] = [:]
    private var pollSet: [pollfd] = []
    private var pollSetIsStale = true
    /// When curl wants `curl_multi_socket_action(CURL_SOCKET_TIMEOUT)`; nil for never.
    private(set) var timerDeadline: ContinuousClock.Instant?

    init(wakeupFD: Int32) {
        self.wakeupFD = wakeupFD
    }

    /// Registers the callbacks. `self` must outlive the multi handle's use.
    func install(on multi: UnsafeMutableRawPointer) {
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        rdlm_curl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, userdata)
        rdlm_curl_multi_setopt_socket_callback(multi, CURLMOPT_SOCKETFUNCTION) { _, socket, what, userdata, _ in
            Unmanaged<CurlSocketWatch>.fromOpaque(userdata!).takeUnretainedValue().watch(socket, what: what)
            return 0
        }
        rdlm_curl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, userdata)
        rdlm_curl_multi_setopt_timer_callback(multi, CURLMOPT_TIMERFUNCTION) { _, milliseconds, userdata in
            let watch = Unmanaged<CurlSocketWatch>.fromOpaque(userdata!).takeUnretainedValue()
            watch.timerDeadline = milliseconds < 0 ? nil : .now + .milliseconds(milliseconds)
            return 0
        }
    }

    /// True once curl's timer is due; clears it, since curl sets a new one as needed.
    func takeDueTimer() -> Bool {
        guard let deadline = timerDeadline, deadline <= .now else { return false }
        timerDeadline = nil
        return true
    }

    /// Sleeps until a watched socket is ready, curl's timer is due, the wake-up pipe is
    /// written, or `longest` passed. Calls `ready` with each ready curl socket and its
    /// `CURL_CSELECT_*` mask; drains the wake-up pipe.
    func wait(atMost longest: Duration, _ ready: (curl_socket_t, Int32) -> Void) {
        if pollSetIsStale { rebuildPollSet() }
        var timeout = longest
        if let deadline = timerDeadline { timeout = min(timeout, max(.zero, deadline - .now)) }
        let count = poll(&pollSet, nfds_t(pollSet.count), Int32(clamping: timeout.roundedUpMillisecondsOrZero))
        guard count > 0 else { return }
        // Copy the results out first: `ready` calls into curl, whose socket callback may
        // change the poll set.
        var events: [(curl_socket_t, Int32)] = []
        events.reserveCapacity(Int(count))
        for entry in pollSet where entry.revents != 0 {
            if entry.fd == wakeupFD {
                drainWakeups()
                continue
            }
            var mask: Int32 = 0
            if entry.revents & Int16(POLLIN | POLLHUP) != 0 { mask |= Self.readyToRead }
            if entry.revents & Int16(POLLOUT) != 0 { mask |= Self.readyToWrite }
            if entry.revents & Int16(POLLERR | POLLNVAL) != 0 { mask |= Self.failed }
            events.append((entry.fd, mask))
        }
        for (socket, mask) in events where interests[socket] != nil {
            ready(socket, mask)
        }
    }

    private func watch(_ socket: curl_socket_t, what: Int32) {
        switch what {
        case CURL_POLL_IN: interests[socket] = Int16(POLLIN)
        case CURL_POLL_OUT: interests[socket] = Int16(POLLOUT)
        case CURL_POLL_INOUT: interests[socket] = Int16(POLLIN | POLLOUT)
        default: interests[socket] = nil  // CURL_POLL_REMOVE
        }
        pollSetIsStale = true
    }

    private func rebuildPollSet() {
        pollSet.removeAll(keepingCapacity: true)
        pollSet.append(pollfd(fd: wakeupFD, events: Int16(POLLIN), revents: 0))
        for (socket, events) in interests {
            pollSet.append(pollfd(fd: socket, events: events, revents: 0))
        }
        pollSetIsStale = false
    }

    private func drainWakeups() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(wakeupFD, $0.baseAddress, $0.count) }) > 0 {}
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, and 0 for zero or less: a poll timeout.
    var roundedUpMillisecondsOrZero: Int {
        self <= .zero ? 0 : roundedUpMilliseconds
    }
}
