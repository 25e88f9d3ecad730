"""Fixtures for the end-to-end tests of `rdlm`, the command-line client.

Each test session starts two debug rdlmd daemons on free ports: one with open admin
requests, one that asks for HTTP Basic credentials. Every test runs the real `rdlm`
binary as a child process. RDLM and RDLMD name the binaries (default: .build/debug/).
Timeouts are generous and waits poll, so the tests hold on a loaded two-core machine.
"""
import json
import signal
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pysupport"))
from rdlm_testing import free_port, wait_until  # noqa: E402  (also imported from this conftest)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RDLM = os.environ.get("RDLM", os.path.join(ROOT, ".build", "debug", "rdlm"))
RDLMD = os.environ.get("RDLMD", os.path.join(ROOT, ".build", "debug", "rdlmd"))

# Exit statuses of rdlm, as documented in `rdlm --help`.
EX_TIMEOUT, EX_DELETED, EX_UNREACHABLE, EX_USAGE, EX_NOT_FOUND = 100, 101, 102, 103, 104
EX_LOST, EX_ADMIN_REFUSED = 107, 108




def default_signals():
    for number in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


class Daemon:
    def __init__(self, workdir, *flags):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(workdir, "rdlmd-%d.log" % self.port), "wb")
        # RDLM_TEST_ETCD_ENDPOINTS: the same tests against daemons keeping their locks in
        # etcd, each in a lock space of its own.
        endpoints = os.environ.get("RDLM_TEST_ETCD_ENDPOINTS")
        if endpoints:
            flags += ("--etcd-endpoints", endpoints, "--etcd-prefix", "/rdlm-cli-%s/" % uuid.uuid4().hex, "--etcd-events")
        self.process = subprocess.Popen([RDLMD, "--port", str(self.port), *flags],
                                        stdout=subprocess.DEVNULL, stderr=self.log)
        wait_until(self.answers, timeout=60, what="rdlmd on port %d" % self.port)

    def answers(self):
        if self.process.poll() is not None:
            raise AssertionError("rdlmd exited with %s" % self.process.returncode)
        try:
            with urllib.request.urlopen(self.url + "/", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="rdlm-cli-") as directory:
        yield directory


@pytest.fixture(scope="session")
def daemon(workdir):
    started = Daemon(workdir, "--admin-userpass-file", "yes")
    yield started
    started.stop()


@pytest.fixture(scope="session")
def auth_daemon(workdir):
    path = os.path.join(workdir, "admins")
    # Hashed, as the README says to: bcrypt from htpasswd (apache2-utils).
    line = subprocess.run(["htpasswd", "-nbB", "admin", "s3cret"], check=True, capture_output=True, text=True).stdout
    with open(path, "w") as f:
        f.write(line.strip() + "\n")
    started = Daemon(workdir, "--admin-userpass-file", path)
    yield started
    started.stop()


@pytest.fixture
def resource():
    """A resource name of this test's own."""
    return "cli" + uuid.uuid4().hex[:16]


class Rdlm:
    """Runs the rdlm binary against one daemon (through RDLM_SERVER)."""

    def __init__(self, server):
        self.server = server

    def env(self, **extra):
        env = dict(os.environ)
        for name in ("RDLM_USER", "RDLM_PASSWORD", "RDLM_LOCK_URL", "RDLM_FENCING_TOKEN"):
            env.pop(name, None)
        env["RDLM_SERVER"] = self.server
        env.update(extra)
        return env

    def run(self, *args, timeout=120, env=None, **kwargs):
        return subprocess.run([RDLM, *args], capture_output=True, text=True, timeout=timeout,
                              env=env or self.env(), **kwargs)

    def ok(self, *args, **kwargs):
        """Runs and asserts success; returns stdout."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, "rdlm %s: status %d, stderr %r" % (args, result.returncode, result.stderr)
        assert result.stderr == ""
        return result.stdout

    def json(self, *args, **kwargs):
        return json.loads(self.ok(*args, "--json", **kwargs))

    def start(self, *args, env=None):
        """Starts rdlm in the background: the test waits for it and signals it. Its signals
        start at their defaults, as from a terminal: a test run started in the background by
        a non-interactive shell (`cmd &`) has SIGINT ignored, and rdlm, like a shell, leaves
        the signals it inherited ignored alone, so a SIGINT test would wait in vain."""
        return subprocess.Popen([RDLM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env or self.env(), preexec_fn=default_signals)

    def holder(self, resource):
        """The active lock on `resource`, or None (through the admin listing)."""
        for lock in self.json("locks", resource):
            if lock["active"]:
                return lock
        return None


@pytest.fixture
def rdlm(daemon):
    return Rdlm(daemon.url)


def one_line_error(result, status):
    """Asserts that `result` failed with `status` and said why in one line on stderr."""
    assert result.returncode == status, "status %d, stderr %r" % (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rdlm: "), result.stderr
    assert "Traceback" not in result.stderr and "Fatal error" not in result.stderr
    return lines[0]
