"""rdlmd serving HTTPS: start-up checks, Location, TLS 1.2+, mutual TLS and admin by
certificate subject, SIGHUP reload, and hostile input on the TLS port. Uses curl and
openssl as a person would, and Python's ssl for kept-alive connections."""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

from conftest import RDLMD, free_port, tls_context, wait_until


def curl(*args, timeout=30):
    """curl -sS with the answer's status and body: (exit code, status, body, stderr)."""
    result = subprocess.run(["curl", "-q", "-sS", "-o", "-", "-w", "\n%{http_code}", *args],
                            capture_output=True, text=True, timeout=timeout)
    body, _, status = result.stdout.rpartition("\n")
    return result.returncode, status, body, result.stderr


def start_fails(*flags):
    """rdlmd with these flags must refuse to start: its exit code and message."""
    result = subprocess.run([RDLMD, "--port", str(free_port()), *map(str, flags)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, "rdlmd started with %s" % (flags,)
    return result.stderr


# Start-up


def test_certificate_chain_and_key_go_together(pki):
    assert "go together" in start_fails("--tls-certificate-chain", pki.server)
    assert "go together" in start_fails("--tls-private-key", pki.server_key)


def test_unreadable_or_mismatched_files_stop_the_start(pki, tmp_path):
    missing = tmp_path / "missing.pem"
    message = start_fails("--tls-certificate-chain", missing, "--tls-private-key", pki.server_key)
    assert "--tls-certificate-chain" in message and "missing.pem" in message
    message = start_fails("--tls-certificate-chain", pki.server, "--tls-private-key", missing)
    assert "--tls-private-key" in message and "missing.pem" in message
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    message = start_fails("--tls-certificate-chain", not_pem, "--tls-private-key", pki.server_key)
    assert "not.pem" in message and ("no PEM certificate" in message or "not in PEM format" in message)
    message = start_fails("--tls-certificate-chain", pki.server, "--tls-private-key", pki.other_key)
    assert "other.key' is not the key of the first certificate" in message
    message = start_fails("--tls-certificate-chain", pki.server, "--tls-private-key", pki.server_key,
                          "--tls-client-ca", missing)
    assert "--tls-client-ca" in message


def test_client_ca_and_admin_subject_need_their_companions(pki):
    assert "--tls-client-ca needs" in start_fails("--tls-client-ca", pki.ca)
    tls = ["--tls-certificate-chain", pki.server, "--tls-private-key", pki.server_key]
    assert "--tls-admin-subject needs --tls-client-ca" in start_fails(*tls, "--tls-admin-subject", "rdlm-admin")
    # With 'yes' (the default) every admin request is allowed: the subject would mean nothing.
    assert "--admin-userpass-file" in start_fails(*tls, "--tls-client-ca", pki.ca, "--tls-admin-subject", "rdlm-admin")


# HTTPS


def test_curl_acquires_over_https_and_location_is_https(rdlmd_tls, pki):
    daemon = rdlmd_tls()
    code, status, body, _ = curl("--cacert", pki.ca, "-X", "POST", "-d", '{"title": "t", "lifetime": 30, "wait": 0}',
                                 "-D", "-", daemon.url + "/locks/tlsres")
    assert (code, status) == (0, "201"), body
    location = next(line.split(": ", 1)[1].strip() for line in body.splitlines() if line.lower().startswith("location:"))
    assert location.startswith("https://127.0.0.1:%d/locks/tlsres/" % daemon.port)
    # By name: the certificate's SAN has localhost too.
    code, status, _, _ = curl("--cacert", pki.ca, "https://localhost:%d/locks/tlsres/%s" % (daemon.port, location.rsplit("/", 1)[1]))
    assert (code, status) == (0, "200")
    code, status, _, _ = curl("--cacert", pki.ca, "-X", "DELETE", location)
    assert (code, status) == (0, "204")
    # HTTP/1.0 without Host: Location from the local address, still https.
    code, status, body, _ = curl("--cacert", pki.ca, "-0", "-H", "Host:", "-X", "POST", "-D", "-",
                                 "-d", '{"title": "t", "lifetime": 30, "wait": 0}', daemon.url + "/locks/tlsres")
    assert status == "201" and "Location: https://127.0.0.1:%d/" % daemon.port in body


def test_a_client_that_does_not_trust_the_ca_is_refused(rdlmd_tls, pki):
    daemon = rdlmd_tls()
    code, status, _, error = curl("--cacert", pki.ca2, daemon.url + "/health")
    assert code == 60 and status == "000", error


def test_tls_before_1_2_is_refused(rdlmd_tls, pki):
    daemon = rdlmd_tls()
    for version in ("-tls1", "-tls1_1"):
        # SECLEVEL=0 lets this openssl offer the old versions; the server must still refuse.
        result = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % daemon.port, version,
                                 "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", pki.ca],
                                input="", capture_output=True, text=True, timeout=30)
        # Refused before the server sent its certificate.
        assert result.returncode != 0 and "BEGIN CERTIFICATE" not in result.stdout, result.stdout
    result = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % daemon.port, "-tls1_2",
                             "-CAfile", pki.ca], input="", capture_output=True, text=True, timeout=30)
    assert "Verify return code: 0 (ok)" in result.stdout and result.returncode == 0


# Mutual TLS and admin by certificate


def test_mutual_tls_requires_a_certificate_from_the_client_ca(rdlmd_tls, pki):
    daemon = rdlmd_tls("--tls-client-ca", pki.ca)
    code, status, _, error = curl("--cacert", pki.ca, daemon.url + "/health")
    assert code != 0 and status == "000", error
    # Signed by another CA, though its subject is an admin's.
    code, status, _, error = curl("--cacert", pki.ca, "--cert", pki.rogue, "--key", pki.rogue_key, daemon.url + "/health")
    assert code != 0 and status == "000", error
    code, status, _, _ = curl("--cacert", pki.ca, "--cert", pki.client, "--key", pki.client_key, daemon.url + "/health")
    assert (code, status) == (0, "200")
    # Refused handshakes never stopped it serving.
    assert daemon.process.poll() is None


def test_admin_subject_authorises_admin_requests_without_credentials(rdlmd_tls, pki, tmp_path):
    admins = tmp_path / "admins"
    admins.write_text("ops:s3cret\n")
    daemon = rdlmd_tls("--tls-client-ca", pki.ca, "--tls-admin-subject", "rdlm-admin",
                       "--tls-admin-subject", "someone-else", "--admin-userpass-file", admins)
    admin = ("--cacert", pki.ca, "--cert", pki.admin, "--key", pki.admin_key)
    client = ("--cacert", pki.ca, "--cert", pki.client, "--key", pki.client_key)
    code, status, body, _ = curl(*admin, daemon.url + "/resources")
    assert (code, status) == (0, "200"), body
    code, status, _, _ = curl(*admin, "-X", "DELETE", daemon.url + "/resources/nothing")
    assert status in ("204", "404")
    # CN=rdlm-client is not listed: the userpass rule applies.
    code, status, body, _ = curl(*client, daemon.url + "/resources")
    assert status == "401", body
    code, status, _, _ = curl(*client, "-u", "ops:s3cret", daemon.url + "/resources")
    assert status == "200"
    # Lock requests need no admin.
    code, status, _, _ = curl(*client, "-X", "POST", "-d", '{"title": "t", "lifetime": 5, "wait": 0}', daemon.url + "/locks/mtls")
    assert status == "201"


def test_admin_subject_with_admin_requests_refused_otherwise(rdlmd_tls, pki):
    daemon = rdlmd_tls("--tls-client-ca", pki.ca, "--tls-admin-subject", "rdlm-admin", "--admin-userpass-file", "no")
    assert daemon.request("GET", "/resources", cert=(pki.admin, pki.admin_key)).status == 200
    refused = daemon.request("GET", "/resources", cert=(pki.client, pki.client_key))
    assert refused.status == 403 and "disabled" in refused.body


# SIGHUP


def subject_of_new_connection(daemon, cafile):
    result = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % daemon.port, "-CAfile", cafile,
                             "-verify_return_error"], input="", capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return None
    certificate = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=result.stdout,
                                 capture_output=True, text=True).stdout
    return certificate.strip()


def test_sighup_reloads_the_certificate_for_new_connections_only(rdlmd_tls, pki):
    daemon = rdlmd_tls()
    kept = daemon.connection()
    kept.request("GET", "/health")
    assert kept.getresponse().read() and kept.sock is not None
    socket_before = kept.sock
    assert "CN = rdlmd" in subject_of_new_connection(daemon, pki.ca)

    shutil.copyfile(pki.server2, daemon.chain)
    shutil.copyfile(pki.server2_key, daemon.key)
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "TLS certificate chain, private key and client CA re-read" in daemon.log_text(),
               timeout=30, what="the TLS reload logged")

    # The kept-alive connection goes on, on the same socket, with its old session.
    kept.request("GET", "/health")
    response = kept.getresponse()
    assert response.status == 200 and response.read()
    assert kept.sock is socket_before
    assert "rdlmd" == dict(field[0] for field in kept.sock.getpeercert()["subject"])["commonName"]
    kept.close()
    # New connections get the new certificate, which only ca2 trusts.
    assert "CN = rdlmd-renewed" in subject_of_new_connection(daemon, pki.ca2)
    assert subject_of_new_connection(daemon, pki.ca) is None
    code, status, _, _ = curl("--cacert", pki.ca2, daemon.url + "/health")
    assert (code, status) == (0, "200")

    # A reload that cannot be used (the key of no certificate) keeps the context in force.
    shutil.copyfile(pki.other_key, daemon.key)
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "TLS files not re-read, keeping the ones in force" in daemon.log_text(),
               timeout=30, what="the refused reload logged")
    assert "CN = rdlmd-renewed" in subject_of_new_connection(daemon, pki.ca2)
    assert daemon.process.poll() is None


def test_sighup_rereads_the_client_ca(rdlmd_tls, pki, tmp_path):
    client_ca = tmp_path / "client-ca.pem"
    shutil.copyfile(pki.ca, client_ca)
    daemon = rdlmd_tls("--tls-client-ca", client_ca)
    rogue = ("--cacert", pki.ca, "--cert", pki.rogue, "--key", pki.rogue_key)
    assert curl(*rogue, daemon.url + "/health")[1] == "000"
    shutil.copyfile(pki.ca2, client_ca)
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "TLS certificate chain, private key and client CA re-read" in daemon.log_text(),
               timeout=30, what="the TLS reload logged")
    assert curl(*rogue, daemon.url + "/health")[:2] == (0, "200")


# Hostile input on the TLS port


def raw_exchange(port, data, timeout=30):
    """Sends `data`, then reads until the server closes: what it sent back, and whether it
    closed within `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(data)
        received = b""
        try:
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    return received, True
                received += chunk
        except socket.timeout:
            return received, False
        except ConnectionResetError:
            return received, True


def test_plain_http_on_the_tls_port_gets_400_https_required(rdlmd_tls):
    daemon = rdlmd_tls()
    answer, closed = raw_exchange(daemon.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert closed and answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"HTTPS required" in answer
    assert daemon.request("GET", "/health").status == 200


def test_garbage_and_cut_handshakes_are_closed_and_others_served(rdlmd_tls, pki):
    daemon = rdlmd_tls("--request-timeout", "2")
    # Not TLS, not HTTP.
    answer, closed = raw_exchange(daemon.port, bytes(range(256)) * 4)
    assert closed and not answer.startswith(b"HTTP")
    # A TLS record header announcing more than comes: the handshake stalls, and is closed
    # by the handshake deadline (--request-timeout), not the 300 s idle timeout.
    started = time.monotonic()
    answer, closed = raw_exchange(daemon.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", timeout=60)
    assert closed and time.monotonic() - started < 30
    # A real ClientHello, then silence: also closed.
    context = tls_context(pki.ca)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    started = time.monotonic()
    answer, closed = raw_exchange(daemon.port, outgoing.read(), timeout=60)
    assert closed and time.monotonic() - started < 30
    # A connection that says nothing at all: closed by the handshake deadline too.
    started = time.monotonic()
    answer, closed = raw_exchange(daemon.port, b"", timeout=60)
    assert closed and time.monotonic() - started < 30
    assert daemon.request("GET", "/health").status == 200
    assert daemon.process.poll() is None


def test_a_client_without_a_certificate_under_mutual_tls_does_not_disturb_others(rdlmd_tls, pki):
    daemon = rdlmd_tls("--tls-client-ca", pki.ca)
    kept = daemon.connection(cert=(pki.client, pki.client_key))
    kept.request("GET", "/health")
    assert kept.getresponse().read()
    for _ in range(5):
        try:
            daemon.request("GET", "/health")
            raise AssertionError("served without a client certificate")
        except (ssl.SSLError, OSError):
            pass
    kept.request("GET", "/health")
    assert kept.getresponse().status == 200
    kept.close()
