"""Fixtures for the etcd backend's fault and failure tests.

One etcd cluster of three members for the session: started with scripts/etcd-cluster.sh
in a temporary folder and stopped at the end, or the one in $RDLM_TEST_ETCD_DIR (left
running, with every member restored). Each test module gets three rdlmd daemons sharing
one lock space under a prefix of its own; after each test every daemon and member the test
killed or paused is brought back, so the next test starts whole. RDLMD names the daemon
binary (default .build/debug/rdlmd).
"""
import os
import tempfile
import uuid

import pytest

from harness import ETCD_TIMEOUT, RDLMD, SESSION_TTL, Daemon, EtcdCluster

DAEMONS = 3
MEASURED = []  # lines the tests report, repeated after the run even when output is captured


class LockSpace:
    """Three daemons on one etcd prefix, and the cluster under them."""

    def __init__(self, cluster, workdir, prefix):
        self.cluster, self.prefix = cluster, prefix
        flags = ["--etcd-endpoints", cluster.endpoints, "--etcd-prefix", prefix,
                 "--etcd-session-ttl", str(SESSION_TTL), "--etcd-timeout", str(ETCD_TIMEOUT)]
        self.daemons = []
        try:
            for i in range(DAEMONS):
                self.daemons.append(Daemon(workdir, flags, "d%d" % (i + 1)))
            for daemon in self.daemons:
                daemon.wait_serving()
        except BaseException:
            self.stop()
            raise

    def heal(self):
        self.cluster.heal()
        for daemon in self.daemons:
            daemon.heal()
        for daemon in self.daemons:
            daemon.wait_serving()

    def stop(self):
        for daemon in self.daemons:
            daemon.stop()

    def logs(self):
        return "\n".join("--- %s (%s)\n%s" % (d.name, d.url, d.log_tail()) for d in self.daemons)


@pytest.fixture(scope="session")
def etcd_cluster():
    if not os.path.exists(RDLMD):
        pytest.fail("no rdlmd at %s (set RDLMD, or swift build --product rdlmd)" % RDLMD)
    named = os.environ.get("RDLM_TEST_ETCD_DIR")
    if named:
        cluster = EtcdCluster(named)
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.heal()
        return
    with tempfile.TemporaryDirectory(prefix="rdlm-etcd-") as directory:
        cluster = EtcdCluster(directory)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="module")
def lockspace(etcd_cluster, request, tmp_path_factory):
    """Three daemons with a prefix of this module's own."""
    prefix = "/rdlm-test/%s-%s/" % (request.module.__name__.rsplit(".", 1)[-1], uuid.uuid4().hex[:8])
    workdir = str(tmp_path_factory.mktemp("daemons"))
    space = LockSpace(etcd_cluster, workdir, prefix)
    try:
        yield space
    finally:
        space.stop()


@pytest.fixture
def space(lockspace):
    """The module's lock space, made whole again after the test."""
    try:
        yield lockspace
    finally:
        lockspace.heal()


@pytest.fixture
def resource():
    """A resource name of this test's own."""
    return "r" + uuid.uuid4().hex[:12]


@pytest.fixture
def report():
    """report(line): prints a measured figure, and repeats it in the run's summary."""
    def say(line):
        print(line)
        MEASURED.append(line)
    return say


def pytest_terminal_summary(terminalreporter):
    if MEASURED:
        terminalreporter.section("etcd: measured")
        for line in MEASURED:
            terminalreporter.write_line(line)
