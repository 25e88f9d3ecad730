"""Fixtures for process-level tests of running rdlmd as a service: signals, probes.

`rdlmd(*flags)` starts .build/debug/rdlmd (or $RDLMD) on a free loopback port, waits until
it answers, and stops it when the test ends. Waits poll with deadlines; nothing sleeps and
hopes.
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pysupport"))
from rdlm_testing import free_port, http_request, stop_process, wait_until  # noqa: E402,F401  (imported by the tests from here)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RDLMD = os.environ.get("RDLMD", os.path.join(ROOT, ".build", "debug", "rdlmd"))


class Daemon:
    def __init__(self, workdir, flags):
        self.port = free_port()
        self.log_path = os.path.join(workdir, "rdlmd-%d.log" % self.port)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([RDLMD, "--port", str(self.port), *flags],
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

    def log_text(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode(errors="replace")


@pytest.fixture
def rdlmd(tmp_path):
    started = []

    def start(*flags):
        daemon = Daemon(str(tmp_path), [str(flag) for flag in flags])
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        stop_process(daemon.process)
