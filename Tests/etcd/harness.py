"""Processes and clients for the etcd tests: a 3-member etcd cluster (scripts/etcd-cluster.sh),
rdlmd daemons sharing one lock space in it, and a client that records every request it
makes into a checker History. Every wait polls with a deadline."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pysupport"))
from rdlm_testing import free_port, http_request, stop_process, wait_until  # noqa: E402

from checker import ACQUIRE, REFRESH, RELEASE, SHOW, WRITE, Op  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RDLMD = os.environ.get("RDLMD", os.path.join(ROOT, ".build", "debug", "rdlmd"))
# The cluster script; RDLM_ETCD_CLUSTER may name another copy of it.
CLUSTER_SCRIPT = os.environ.get("RDLM_ETCD_CLUSTER", os.path.join(ROOT, "scripts", "etcd-cluster.sh"))

# The daemons' etcd settings, which the failure bounds are stated in terms of.
SESSION_TTL = 2    # --etcd-session-ttl: etcd's shortest lease
ETCD_TIMEOUT = 2   # --etcd-timeout: how long one etcd request may take before a 503
STARTUP_TIMEOUT = 60  # a debug rdlmd or an etcd member on a loaded 2-core machine


class EtcdCluster:
    """The three members of scripts/etcd-cluster.sh in `directory`."""

    def __init__(self, directory):
        self.directory = directory
        self.endpoints = None
        self.stopped, self.paused = set(), set()

    def start(self):
        """Starts the cluster (or the members of the one already in the folder that are not
        running) and returns once each member serves linearizable reads."""
        self.run("start")
        with open(os.path.join(self.directory, "endpoints")) as f:
            self.endpoints = f.read().strip()

    def stop(self):
        self.run("stop")

    def run(self, *args):
        subprocess.run([CLUSTER_SCRIPT, args[0], self.directory, *map(str, args[1:])], check=True,
                       timeout=120, stdout=subprocess.DEVNULL)

    def stop_member(self, n):
        """SIGKILL, as a crash."""
        self.run("stop-member", n)
        self.stopped.add(n)

    def start_member(self, n):
        """Restarts member n; returns once every running member serves linearizable reads."""
        self.run("start-member", n)
        self.stopped.discard(n)

    def pause_member(self, n):
        self.run("pause-member", n)
        self.paused.add(n)

    def resume_member(self, n):
        self.run("resume-member", n)
        self.paused.discard(n)

    def heal(self):
        """Every member running and answering again, whatever a test did to them."""
        for n in sorted(self.paused):
            self.resume_member(n)
        self.start()
        self.stopped.clear()


class Daemon:
    """One rdlmd on a fixed port, so that it comes back at the same URL after a kill."""

    def __init__(self, workdir, flags, name):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.flags, self.name = flags, name
        self.log_path = os.path.join(workdir, "rdlmd-%s-%d.log" % (name, self.port))
        self.process = None
        self.paused = False
        self.start()

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([RDLMD, "--port", str(self.port), *self.flags],
                                            stdout=subprocess.DEVNULL, stderr=log)
        wait_until(self.answers, timeout=STARTUP_TIMEOUT, what="rdlmd %s on port %d" % (self.name, self.port))

    def answers(self):
        if self.process.poll() is not None:
            raise AssertionError("rdlmd %s exited with %s:\n%s" % (self.name, self.process.returncode, self.log_tail()))
        try:
            return self.request("GET", "/", timeout=5).status == 200
        except OSError:
            return False

    def serves(self, resource="readiness"):
        """An acquire through this daemon is granted (and released). It may wait, so the
        daemon needs its etcd session for it, which a try-lock does not."""
        try:
            response = self.request("POST", "/locks/" + resource, json.dumps(
                {"title": "readiness probe", "lifetime": 5, "wait": 1}), timeout=10)
        except OSError:
            return False
        if response.status == 201:
            self.request("DELETE", urlsplit(response.headers["Location"]).path, timeout=10)
            return True
        return False

    def wait_serving(self, timeout=STARTUP_TIMEOUT):
        wait_until(lambda: self.serves(), timeout=timeout, interval=0.1, what="rdlmd %s to grant" % self.name)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a fresh connection, closed afterwards; OSError when no answer."""
        try:
            return http_request(self.port, method, path, body, headers, timeout)
        except http.client.HTTPException as error:
            raise ConnectionResetError("%s: %s" % (type(error).__name__, error)) from error

    def kill(self):
        """SIGKILL, and reaped."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.paused = False

    def restart(self):
        self.start()

    def pause(self):
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def running(self):
        return self.process is not None and self.process.poll() is None

    def heal(self):
        """Running and answering again, whatever a test did to it."""
        if self.running():
            if self.paused:
                self.resume()
        else:
            self.start()

    def stop(self):
        if self.process is not None:
            stop_process(self.process)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


def request_id():
    """An RDLM-Request-Id: 32 random lowercase hex."""
    return uuid.uuid4().hex


def error_name(error):
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    return "reset"


class RecordingClient:
    """Makes lock requests through daemons and records each in `history` as an Op."""

    def __init__(self, name, history, answer_bound):
        self.name, self.history = name, history
        # Long enough that an answer the checker would call late still arrives as one.
        self.slack = answer_bound + 5

    def _call(self, op, daemon, method, path, body=None, headers=None, timeout=None):
        op.sent = time.monotonic()
        try:
            response = daemon.request(method, path, body=json.dumps(body) if body is not None else None,
                                      headers=headers, timeout=timeout or self.slack)
        except OSError as error:
            op.answered, op.error = time.monotonic(), error_name(error)
            self.history.add(op)
            return op, None
        op.answered, op.status = time.monotonic(), response.status
        self.history.add(op)
        return op, response

    def acquire(self, daemon, resource, lifetime, wait, rid=None, mode=None):
        body = {"title": self.name, "lifetime": lifetime, "wait": wait}
        if mode:
            body["mode"] = mode
        headers = {"Content-Type": "application/json"}
        if rid:
            headers["RDLM-Request-Id"] = rid
        op = Op(self.name, daemon.url, ACQUIRE, resource, 0.0, lifetime=lifetime, wait=wait, request_id=rid,
                mode=mode or "exclusive")
        op, response = self._call(op, daemon, "POST", "/locks/" + resource, body, headers, timeout=wait + self.slack)
        if response is not None:
            op.error = response.body[:200] if response.status >= 400 else None
            if response.status == 201:
                op.lock_url = response.headers.get("location")
                token = response.headers.get("rdlm-fencing-token")
                op.token = int(token) if token is not None else None
        return op

    def release(self, daemon, grant):
        op = Op(self.name, daemon.url, RELEASE, grant.resource, 0.0, lock_url=grant.lock_url)
        return self._call(op, daemon, "DELETE", urlsplit(grant.lock_url).path)[0]

    def refresh(self, daemon, grant, lifetime):
        op = Op(self.name, daemon.url, REFRESH, grant.resource, 0.0, lock_url=grant.lock_url, lifetime=lifetime)
        return self._call(op, daemon, "PATCH", urlsplit(grant.lock_url).path, {"lifetime": lifetime})[0]

    def show(self, daemon, grant):
        """GET the lock: records whether it is active (404 counts as not)."""
        op = Op(self.name, daemon.url, SHOW, grant.resource, 0.0, lock_url=grant.lock_url)
        op, response = self._call(op, daemon, "GET", urlsplit(grant.lock_url).path)
        if response is not None:
            op.active = response.status == 200 and json.loads(response.body).get("active") is True
        return op

    def write(self, storage, grant):
        """The write-with-token step: the guarded storage takes or refuses the grant's token."""
        at = time.monotonic()
        accepted = storage.write(grant.resource, grant.token)
        return self.history.add(Op(self.name, "storage", WRITE, grant.resource, at, at, token=grant.token,
                                   lock_url=grant.lock_url, accepted=accepted))
