"""What the process-level test suites (Tests/cli, Tests/hostile, Tests/etcd) share: a free
loopback port, polling for a condition instead of sleeping and hoping, and one HTTP request
on a connection of its own."""
import http.client
import os
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout=30, interval=0.02, what="condition"):
    """Polls `condition` until it returns something truthy, which it returns."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %s s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def __repr__(self):
        return "%d %r" % (self.status, self.body[:200])


def http_request(port, method, path, body=None, headers=None, timeout=10):
    """One request to 127.0.0.1:`port` on a fresh connection, closed afterwards. The
    answer's headers are looked up case-insensitively."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.msg,
                        response.read().decode(errors="replace"))
    finally:
        connection.close()


def stop_process(process, timeout=15):
    """SIGTERM (after a SIGCONT, in case a test paused it), SIGKILL if that is not enough;
    reaped either way."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class Daemon:
    """rdlmd (`binary`) started on a free loopback port, or on `port` (to restart a daemon
    where its clients expect it), its log in `workdir`; ready once /health answers."""

    def __init__(self, binary, workdir, flags, port=None):
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(workdir, "rdlmd-%d-%d.log" % (self.port, len(os.listdir(workdir))))
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([binary, "--port", str(self.port), *flags],
                                            stdout=subprocess.DEVNULL, stderr=log)
        wait_until(self.answers, timeout=60, what="rdlmd on port %d" % self.port)

    def answers(self):
        if self.process.poll() is not None:
            raise AssertionError("rdlmd exited with %s: %s" % (self.process.returncode, self.log_text()))
        try:
            return self.request("GET", "/health", timeout=5).status == 200
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None, timeout=10):
        return http_request(self.port, method, path, body, headers, timeout)

    def stop(self):
        stop_process(self.process)

    def log_text(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode(errors="replace")
