import CCurl

extension CurlTransport {
    /// The curl thread: owns the multi handle from creation to clean-up.
    func run(maximumConnections: Int) {
        nameThisThread()
        guard let multi = curl_multi_init() else { fatalError("RDLMClient: curl_multi_init failed") }
        rdlm_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, maximumConnections))
        rdlm_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0)
        rdlm_curl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0)
        let sockets = CurlSocketWatch(wakeupFD: wakeupRead)
        sockets.install(on: multi)
        let session = CurlSession(multi: multi, transport: self)
        let executor = asUnownedTaskExecutor()

        var stopDeadline: ContinuousClock.Instant?
        while true {
            let (commands, isStopping) = inbox.withLock { inbox in
                let commands = inbox.commands
                inbox.commands.removeAll(keepingCapacity: true)
                return (commands, inbox.isStopping)
            }
            for command in commands {
                switch command {
                case .start(let transfer): session.start(transfer)
                case .cancel(let id): session.cancel(id)
                case .run(let job): job.runSynchronously(on: executor)
                }
            }
            if isStopping {
                if stopDeadline == nil {
                    stopDeadline = .now + Self.stopGracePeriod
                    session.failAwaited()
                }
                if session.isIdle || ContinuousClock.now >= stopDeadline! { break }
            }
            // Newly added transfers set curl's timer to 0: start them before sleeping.
            if sockets.takeDueTimer() { session.socketAction(CurlSocketWatch.timeoutSocket, mask: 0) }
            session.deliverFinished()
            // Sleep only when nothing was queued meanwhile (tasks resumed just now may have
            // queued requests from this very thread, without a wake-up).
            let mayBlock = inbox.withLock { inbox -> Bool in
                guard inbox.commands.isEmpty else { return false }
                inbox.needsWakeup = true
                return true
            }
            sockets.wait(atMost: !mayBlock ? .zero : isStopping ? .milliseconds(20) : .seconds(1)) { socket, mask in
                session.socketAction(socket, mask: mask)
            }
            inbox.withLock { $0.needsWakeup = false }
            if sockets.takeDueTimer() { session.socketAction(CurlSocketWatch.timeoutSocket, mask: 0) }
            session.deliverFinished()
        }
        session.close()
        curl_multi_cleanup(multi)
        let (waiters, jobs) = inbox.withLock { inbox in
            inbox.isStopped = true
            let waiters = inbox.stopWaiters
            inbox.stopWaiters = []
            let jobs = inbox.commands.compactMap { command -> UnownedJob? in
                if case .run(let job) = command { return job }
                return nil
            }
            inbox.commands = []
            return (waiters, jobs)
        }
        close(wakeupRead)
        close(wakeupWrite)
        // Jobs queued before the stop still run, elsewhere.
        for job in jobs { globalConcurrentExecutor.enqueue(job) }
        for waiter in waiters { waiter.resume() }
    }

    /// Gives the kernel this thread's name, which debuggers, `top -H` and `perf` show; it
    /// would otherwise inherit its creator's, such as a dispatch worker's. Foundation's
    /// `Thread.name` does not reach the kernel on Linux, and `pthread_setname_np` is not
    /// visible to Swift there.
    private func nameThisThread() {
        #if os(Linux)
        let file = open("/proc/thread-self/comm", O_WRONLY)
        guard file >= 0 else { return }
        _ = Self.threadName.withCString { write(file, $0, strlen($0)) }
        close(file)
        #endif
    }
}
