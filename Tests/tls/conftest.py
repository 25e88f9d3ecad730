"""Fixtures for the TLS tests: a throwaway PKI made by make-certs.sh with openssl (once per
session, in a temp dir), and `rdlmd_tls(*flags)`, which starts .build/debug/rdlmd (or
$RDLMD) with --tls-certificate-chain and --tls-private-key on a free loopback port, waits
until it answers over HTTPS, and stops it when the test ends."""
import http.client
import os
import shutil
import ssl
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pysupport"))
from rdlm_testing import free_port, stop_process, wait_until  # noqa: E402,F401  (imported by the tests from here)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RDLMD = os.environ.get("RDLMD", os.path.join(ROOT, ".build", "debug", "rdlmd"))
RDLM = os.environ.get("RDLM", os.path.join(ROOT, ".build", "debug", "rdlm"))


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    subprocess.run([os.path.join(HERE, "make-certs.sh"), str(directory)], check=True)
    return Certificates(str(directory))


class Certificates:
    def __init__(self, directory):
        self.dir = directory

    def __getattr__(self, name):  # pki.ca -> DIR/ca.pem, pki.admin_key -> DIR/admin.key
        if name.endswith("_key"):
            return os.path.join(self.dir, name[:-4] + ".key")
        return os.path.join(self.dir, name + ".pem")


def tls_context(cafile, cert=None, key=None):
    context = ssl.create_default_context(cafile=cafile)
    if cert:
        context.load_cert_chain(cert, key)
    return context


class TLSDaemon:
    def __init__(self, workdir, pki, flags, chain=None, key=None):
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.pki = pki
        # The daemon reads copies, so that a test can replace them before a SIGHUP.
        self.chain = os.path.join(workdir, "chain-%d.pem" % self.port)
        self.key = os.path.join(workdir, "key-%d.pem" % self.port)
        shutil.copyfile(chain or pki.server, self.chain)
        shutil.copyfile(key or pki.server_key, self.key)
        self.log_path = os.path.join(workdir, "rdlmd-%d.log" % self.port)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [RDLMD, "--port", str(self.port), "--tls-certificate-chain", self.chain,
                 "--tls-private-key", self.key, *flags],
                stdout=subprocess.DEVNULL, stderr=log)
        self.client_cert = (pki.admin, pki.admin_key) if "--tls-client-ca" in flags else (None, None)
        wait_until(self.answers, timeout=60, what="rdlmd over HTTPS on port %d" % self.port)

    def answers(self):
        if self.process.poll() is not None:
            raise AssertionError("rdlmd exited with %s: %s" % (self.process.returncode, self.log_text()))
        try:
            return self.request("GET", "/health", cert=self.client_cert).status == 200
        except (OSError, ssl.SSLError):
            return False

    def connection(self, cafile=None, cert=(None, None), timeout=10):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=tls_context(cafile or self.pki.ca, *cert))

    def request(self, method, path, body=None, headers=None, cafile=None, cert=(None, None)):
        """One request on a connection of its own: (status, headers, body)."""
        connection = self.connection(cafile, cert)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            response.body = response.read().decode(errors="replace")
            return response
        finally:
            connection.close()

    def log_text(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode(errors="replace")


@pytest.fixture
def rdlmd_tls(tmp_path, pki):
    started = []

    def start(*flags, chain=None, key=None):
        daemon = TLSDaemon(str(tmp_path), pki, [str(flag) for flag in flags], chain, key)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        stop_process(daemon.process)
