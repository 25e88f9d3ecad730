"""Fixtures for process-level tests of running rdlmd as a service: signals, probes.

`rdlmd(*flags)` starts .build/debug/rdlmd (or $RDLMD) on a free loopback port, waits until
it answers, and stops it when the test ends. Waits poll with deadlines; nothing sleeps and
hopes.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pysupport"))
from rdlm_testing import Daemon, free_port, http_request, stop_process, wait_until  # noqa: E402,F401  (imported by the tests from here)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RDLMD = os.environ.get("RDLMD", os.path.join(ROOT, ".build", "debug", "rdlmd"))


@pytest.fixture
def rdlmd(tmp_path):
    started = []

    def start(*flags):
        daemon = Daemon(RDLMD, str(tmp_path), [str(flag) for flag in flags])
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        stop_process(daemon.process)
