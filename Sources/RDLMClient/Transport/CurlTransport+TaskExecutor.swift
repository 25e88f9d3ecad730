/// The curl thread as a task executor. A task that prefers it runs between the curl
/// thread's I/O steps: a response resumes it on the spot, and the request it makes next is
/// queued without waking another thread, which saves two thread switches per request.
/// The price: while such a task runs, no other transfer of this client makes progress, so
/// it suits tight loops of lock requests, not work that blocks or computes for long.
extension CurlTransport: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !enqueue(.run(job)) {
            // Stopping or stopped: the job must still run.
            globalConcurrentExecutor.enqueue(job)
        }
    }
}
