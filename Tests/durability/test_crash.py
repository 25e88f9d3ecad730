"""rdlmd --data-dir against kill -9: what a client was told survives.

Twenty rounds on one data directory. In each, client threads acquire and release locks
over keep-alive connections while the daemon is killed with SIGKILL at a random moment;
then the daemon is restarted and checked:
- every lock whose 201 a client received, and which it never tried to release, is there;
- every lock whose release got its 204 is gone;
- every fencing token is unique, and tokens granted after a restart exceed all before.

RDLMD names the daemon binary.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

RDLMD = os.environ["RDLMD"]
ROUNDS = int(os.environ.get("RDLM_CRASH_ROUNDS", "20"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(directory, port):
    process = subprocess.Popen([RDLMD, "--port", str(port), "--data-dir", directory, "--fsync", "batch"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.02)
        if process.poll() is not None:
            raise AssertionError("rdlmd exited: " + process.stderr.read().decode())
    raise AssertionError("rdlmd did not answer in 30 s")


class Client(threading.Thread):
    """Acquires and sometimes releases, remembering exactly what the server confirmed."""

    def __init__(self, port, name, stop):
        super().__init__(daemon=True)
        self.port, self.name, self.stop = port, name, stop
        self.held = {}            # url -> token: 201 received, release never attempted
        self.release_sent = set()  # release attempted, answer unknown
        self.released = set()      # 204 received
        self.tokens = []

    def run(self):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            index = 0
            while not self.stop.is_set():
                index += 1
                body = json.dumps({"title": self.name, "lifetime": 600, "wait": 0})
                connection.request("POST", "/locks/%sx%d" % (self.name, index), body=body)
                response = connection.getresponse()
                response.read()
                if response.status != 201:
                    continue
                url = response.getheader("Location")
                token = int(response.getheader("RDLM-Fencing-Token"))
                self.tokens.append(token)
                if random.random() < 0.5:
                    self.held[url] = token
                    continue
                self.release_sent.add(url)
                connection.request("DELETE", url.split("127.0.0.1:%d" % self.port, 1)[1])
                response = connection.getresponse()
                response.read()
                if response.status == 204:
                    self.released.add(url)
        except (OSError, http.client.HTTPException):
            pass  # the daemon was killed


def status(port, method, url):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, url.split("127.0.0.1:%d" % port, 1)[1])
    response = connection.getresponse()
    response.read()
    return response.status


@pytest.fixture
def directory():
    path = tempfile.mkdtemp(prefix="rdlm-crash-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_nothing_acknowledged_is_lost_across_kill_9(directory):
    all_tokens = []
    for round_number in range(ROUNDS):
        port = free_port()
        daemon = start(directory, port)
        stop = threading.Event()
        clients = [Client(port, "r%dc%d" % (round_number, n), stop) for n in range(6)]
        for client in clients:
            client.start()
        time.sleep(random.uniform(0.2, 0.8))
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        stop.set()
        for client in clients:
            client.join(20)
        round_tokens = [t for c in clients for t in c.tokens]
        assert round_tokens, "no lock was granted in round %d" % round_number
        assert not all_tokens or min(round_tokens) > max(all_tokens), "a token was reused after a restart"
        all_tokens.extend(round_tokens)

        port = free_port()
        daemon = start(directory, port)
        try:
            for client in clients:
                for url in client.held:
                    restarted = url.replace(url.split("/locks/")[0], "http://127.0.0.1:%d" % port)
                    assert status(port, "GET", restarted) == 200, "acknowledged lock %s lost (round %d)" % (url, round_number)
                for url in client.released:
                    restarted = url.replace(url.split("/locks/")[0], "http://127.0.0.1:%d" % port)
                    assert status(port, "GET", restarted) == 404, "released lock %s came back (round %d)" % (url, round_number)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)
    assert len(all_tokens) == len(set(all_tokens)), "a fencing token was issued twice"
