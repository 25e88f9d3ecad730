"""Fixtures for process-level tests of rdlmd under hostile conditions.

`rdlmd(*flags, nofile=N)` starts .build/debug/rdlmd (or $RDLMD) on a free loopback port,
optionally with RLIMIT_NOFILE soft=hard=N, waits until it answers, and stops it when the
test ends. A `Daemon` reads its own CPU ticks and resident memory from /proc, counts its
descriptors and makes small HTTP requests. Waits poll with deadlines; nothing sleeps and
hopes, so the tests hold on a loaded two-core machine.
"""
import os
import resource
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pysupport"))
from rdlm_testing import free_port, http_request, stop_process, wait_until  # noqa: E402  (also imported from this conftest)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RDLMD = os.environ.get("RDLMD", os.path.join(ROOT, ".build", "debug", "rdlmd"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")




def raise_own_descriptor_limit(needed):
    """Lets this test process hold `needed` sockets, or skips the test when it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip("RLIMIT_NOFILE hard limit %d is below the %d descriptors this test needs" % (hard, needed))
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


class Daemon:
    def __init__(self, workdir, flags, nofile=None):
        self.port = free_port()
        self.log_path = os.path.join(workdir, "rdlmd-%d.log" % self.port)
        self.log = open(self.log_path, "wb")

        def limits():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.process = subprocess.Popen([RDLMD, "--port", str(self.port), *flags],
                                        stdout=subprocess.DEVNULL, stderr=self.log, preexec_fn=limits)
        self.pid = self.process.pid
        wait_until(self.answers, timeout=60, what="rdlmd on port %d" % self.port)

    def answers(self):
        if self.process.poll() is not None:
            raise AssertionError("rdlmd exited with %s: %s" % (self.process.returncode, self.log_text()))
        try:
            return self.request("GET", "/", timeout=5).status == 200
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a fresh connection, closed afterwards."""
        return http_request(self.port, method, path, body, headers, timeout)

    def cpu_ticks(self):
        """User plus system CPU time so far, in clock ticks (/proc/PID/stat fields 14 and 15)."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def cpu_percent(self, seconds):
        """The share of one core the daemon used over the next `seconds` (a measurement window)."""
        ticks, started = self.cpu_ticks(), time.monotonic()
        time.sleep(seconds)
        used = (self.cpu_ticks() - ticks) / CLOCK_TICKS
        return 100.0 * used / (time.monotonic() - started)

    def rss_kib(self):
        """Resident memory (VmRSS) in KiB."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.pid)

    def descriptors(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def log_text(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        stop_process(self.process)
        self.log.close()


@pytest.fixture
def rdlmd(tmp_path):
    """Starts daemons for one test: rdlmd("--flag", "value", nofile=1024)."""
    started = []

    def start(*flags, nofile=None):
        daemon = Daemon(str(tmp_path), flags, nofile=nofile)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()
