"""Hostile clients against one connection handler (issue 12, points 1, 2, 5, 6 and 7).

Each case talks only to loopback, is bounded in count and time, and reads the daemon's
memory from /proc/PID/status. Figures are printed (run pytest with -s to see them), so the
same file gives the before/after measurements when pointed at another build with $RDLMD.
"""
import os
import select
import signal
import socket
import statistics
import threading
import time

from conftest import raise_own_descriptor_limit, wait_until

GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def acquire_request(resource, wait=0, lifetime=60):
    body = b'{"title": "hostile", "lifetime": %d, "wait": %d}' % (lifetime, wait)
    return b"POST /locks/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (
        resource.encode(), len(body), body)


def lock_count(daemon, resource):
    response = daemon.request("GET", "/resources/%s" % resource)
    assert response.status == 200, response
    return response.body.count('"uid"')


def all_threads_stopped(pid):
    """Whether every thread of `pid` is in state T (stopped by a signal)."""
    states = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, task)) as stat:
            # The state follows the command name, which is in parentheses.
            states.append(stat.read().rsplit(")", 1)[1].split()[0])
    return all(state in ("T", "t") for state in states)


def read_answer(sock, timeout):
    """Reads until the peer closes or `timeout` passes; returns the bytes."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


class Latencies:
    """A client that keeps making GET / requests on its own connections, timing each."""

    def __init__(self, daemon):
        self.daemon, self.samples, self.errors = daemon, [], []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                status = self.daemon.request("GET", "/", timeout=10).status
                if status != 200:
                    self.errors.append(status)
            except OSError as error:
                self.errors.append(repr(error))
            self.samples.append(time.monotonic() - started)
            time.sleep(0.01)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=20)
        ordered = sorted(self.samples)
        p99 = ordered[int(len(ordered) * 0.99)] if ordered else float("nan")
        return len(ordered), p99, max(ordered) if ordered else float("nan")


def test_a_pipelining_client_that_never_reads_cannot_grow_memory(rdlmd):
    """2,000,000 pipelined GET / (54 MB) on one connection that never reads an answer."""
    daemon = rdlmd()
    idle = daemon.rss_kib()
    others = Latencies(daemon)
    flood = socket.create_connection(("127.0.0.1", daemon.port))
    flood.setblocking(False)
    payload = GET * 10_000
    sent, peak, started = 0, idle, time.monotonic()
    # Bounded in time: the daemon stops reading (TCP flow control then stops the sender),
    # so most of the 54 MB is never sent at all.
    while sent < 200 * len(payload) and time.monotonic() - started < 15:
        try:
            sent += flood.send(payload)
        except BlockingIOError:
            select.select([], [flood], [], 0.1)
        peak = max(peak, daemon.rss_kib())
    for _ in range(20):
        peak = max(peak, daemon.rss_kib())
        time.sleep(0.05)
    flood.close()
    count, p99, worst = others.stop()
    try:
        after = wait_until(lambda: daemon.rss_kib() <= idle * 1.2 and daemon.rss_kib(), timeout=10,
                           what="RSS back within 20 % of idle")
    except AssertionError:
        after = daemon.rss_kib()
    print("\nflood: sent %.1f MB of requests; RSS idle %d KiB, peak %d KiB (+%d), after close %d KiB; "
          "other clients: %d requests, p99 %.1f ms, max %.1f ms, errors %r"
          % (sent / 1e6, idle, peak, peak - idle, after, count, p99 * 1000, worst * 1000, others.errors[:3]))
    assert peak - idle <= 32 * 1024, "RSS grew by %d KiB" % (peak - idle)
    assert after <= idle * 1.2, "RSS %d KiB after the connection closed, idle was %d KiB" % (after, idle)
    assert not others.errors
    assert count > 0


def test_pipelined_acquires_without_reading_grant_only_what_can_be_answered(rdlmd):
    """200,000 pipelined try-locks on distinct resources from a client that never reads."""
    daemon = rdlmd()
    flood = socket.create_connection(("127.0.0.1", daemon.port))
    flood.setblocking(False)
    requests = b"".join(acquire_request("p%d" % i) for i in range(200_000))
    sent, started = 0, time.monotonic()
    while sent < len(requests) and time.monotonic() - started < 10:
        try:
            sent += flood.send(requests[sent:sent + (1 << 20)])
        except BlockingIOError:
            select.select([], [flood], [], 0.1)
    held = wait_until(lambda: len(daemon.request("GET", "/resources").body.split('"name"')) - 1, timeout=10,
                      what="some grants")
    print("\npipelined acquires: %.1f MB sent, %d locks held while the client does not read" % (sent / 1e6, held))
    flood.close()
    assert held < 50_000, "%d of 200,000 try-locks were granted to a client that reads nothing" % held


def test_slow_request_heads_are_cut_at_the_request_deadline(rdlmd):
    """800 connections trickle a request head in, one byte a second."""
    raise_own_descriptor_limit(2_000)
    daemon = rdlmd("--request-timeout", "3", "--idle-timeout", "300")
    others = Latencies(daemon)
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    slow = [socket.create_connection(("127.0.0.1", daemon.port)) for _ in range(800)]
    started = time.monotonic()
    answered, position = {}, 0
    while len(answered) < len(slow) and time.monotonic() - started < 20:
        # A byte a second, stopping short of the 3 s deadline: writing to a socket the
        # daemon has just closed would reset it and lose the 408 on its way.
        if time.monotonic() - started < 2.5:
            for sock in slow:
                sock.send(head[position:position + 1])
            position += 1
        ready, _, _ = select.select([s for s in slow if s not in answered], [], [], 1.0)
        for sock in ready:
            answered[sock] = (time.monotonic() - started, read_answer(sock, 1))
    count, p99, worst = others.stop()
    statuses = [data.split(b" ", 2)[1] if data.startswith(b"HTTP/1.1 ") else data[:20] for _, data in answered.values()]
    times = [elapsed for elapsed, _ in answered.values()]
    print("\nslow heads: %d of %d answered, %d with 408, after %.1f-%.1f s (median %.1f); "
          "other clients: %d requests, p99 %.1f ms, max %.1f ms"
          % (len(answered), len(slow), statuses.count(b"408"), min(times or [0]), max(times or [0]),
             statistics.median(times or [0]), count, p99 * 1000, worst * 1000))
    for sock in slow:
        sock.close()
    assert len(answered) == len(slow)
    assert statuses.count(b"408") == len(slow)
    assert max(times) < 3 + 5, "a slow head was cut only after %.1f s" % max(times)
    assert not others.errors


def test_a_slow_body_is_cut_at_the_request_deadline_however_it_trickles(rdlmd):
    daemon = rdlmd("--request-timeout", "2")
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    sock.sendall(b"POST /locks/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 8000\r\n\r\n{")
    started, answer = time.monotonic(), b""
    while time.monotonic() - started < 10 and not answer:
        try:
            sock.send(b" ")
        except OSError:
            break
        ready, _, _ = select.select([sock], [], [], 0.25)
        if ready:
            answer = read_answer(sock, 1)
    elapsed = time.monotonic() - started
    print("\nslow body: %r after %.1f s" % (answer[:40], elapsed))
    assert answer.startswith(b"HTTP/1.1 408")
    assert elapsed < 2 + 3


def test_host_must_be_a_host(rdlmd):
    daemon = rdlmd()
    for host in [b"evil.example:443/phish?", b"127.0.0.1@evil.example", b""]:
        sock = socket.create_connection(("127.0.0.1", daemon.port))
        request = acquire_request("h").replace(b"Host: 127.0.0.1", b"Host: " + host)
        sock.sendall(request)
        answer = read_answer(sock, 5)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 400"), (host, answer[:200])
        assert b"Host" in answer
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    sock.sendall(acquire_request("h").replace(b"Host: 127.0.0.1\r\n", b""))
    assert read_answer(sock, 5).startswith(b"HTTP/1.1 400")
    assert lock_count(daemon, "h") == 0
    # A valid Host gives the original's Location, and an absolute-form target is served.
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    sock.sendall(acquire_request("h").replace(b"POST /locks/h", b"POST http://locks.example:9/locks/h"))
    answer = read_answer(sock, 2)
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    assert b"Location: http://locks.example:9/locks/h/" in answer


def test_a_grant_to_a_client_that_closed_before_rdlmd_read_its_request_is_released(rdlmd):
    """The request and the client's FIN wait in the kernel together (rdlmd is stopped)."""
    daemon = rdlmd()
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    os.kill(daemon.pid, signal.SIGSTOP)
    try:
        # kill() returns before the signal is taken: a loop thread woken by it can still
        # collect the request alone (and the FIN a turn later) unless every thread is seen
        # stopped first. Without this wait the test failed about once in 25 runs.
        wait_until(lambda: all_threads_stopped(daemon.pid), timeout=10, what="rdlmd stopped")
        sock.sendall(acquire_request("gone"))
        sock.shutdown(socket.SHUT_WR)
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    read_answer(sock, 10)
    sock.close()
    held = lock_count(daemon, "gone")
    print("\nFIN with the request: %d locks held afterwards" % held)
    assert held == 0


def test_one_client_cannot_fill_the_table(rdlmd):
    daemon = rdlmd("--max-locks-per-client", "3")
    locations = []
    for i in range(3):
        response = daemon.request("POST", "/locks/q%d" % i, body='{"title": "t", "lifetime": 60, "wait": 0}')
        assert response.status == 201, response
        locations.append(response.headers["Location"])
    refused = daemon.request("POST", "/locks/q9", body='{"title": "t", "lifetime": 60, "wait": 0}',
                             headers={"Accept": "application/json"})
    assert refused.status == 429
    assert "--max-locks-per-client" in refused.body and "3 locks" in refused.body
    path = locations[0].split("127.0.0.1:%d" % daemon.port, 1)[1]
    assert daemon.request("DELETE", path).status == 204
    assert daemon.request("POST", "/locks/q9", body='{"title": "t", "lifetime": 60, "wait": 0}').status == 201
