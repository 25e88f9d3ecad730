"""The three clients over HTTPS, and with mutual TLS: the command-line client rdlm (on the
Swift RDLMClient) with --cacert/--cert/--key and with RDLM_CACERT/RDLM_CERT/RDLM_KEY, the
C client rdlm.h (ca_bundle, client_cert, client_key), and the shell client rdlm.sh (the
same variables, passed to curl)."""
import os
import subprocess

import pytest

from conftest import HERE, RDLM, ROOT

SHELL_CLIENT = os.path.join(ROOT, "Clients", "shell", "rdlm.sh")


def run(command, env=None, timeout=60):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("RDLM_")}
    environment.update(env or {})
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


def tls_env(pki, cert=None, key=None, cafile=None):
    env = {"RDLM_CACERT": cafile or pki.ca}
    if cert:
        env.update(RDLM_CERT=cert, RDLM_KEY=key)
    return env


# rdlm, the command-line client (RDLMClient underneath)


def test_rdlm_over_https_with_flags_and_with_variables(rdlmd_tls, pki):
    daemon = rdlmd_tls()
    result = run([RDLM, "acquire", "--server", daemon.url, "--cacert", pki.ca, "clihttps", "--lifetime", "30"])
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith(daemon.url + "/locks/clihttps/")
    result = run([RDLM, "release", url], env={"RDLM_SERVER": daemon.url, "RDLM_CACERT": pki.ca})
    assert result.returncode == 0, result.stderr
    # Without the CA, the server's certificate is not trusted: no answer (102).
    result = run([RDLM, "acquire", "--server", daemon.url, "clihttps"])
    assert result.returncode == 102 and "certificate" in result.stderr.lower(), result.stderr


def test_rdlm_with_mutual_tls_and_admin_by_certificate(rdlmd_tls, pki):
    daemon = rdlmd_tls("--tls-client-ca", pki.ca, "--tls-admin-subject", "rdlm-admin", "--admin-userpass-file", "no")
    base = [RDLM, "resources", "--server", daemon.url, "--cacert", pki.ca]
    result = run(base + ["--cert", pki.admin, "--key", pki.admin_key])
    assert result.returncode == 0, result.stderr
    result = run([RDLM, "resources"], env=dict(tls_env(pki, pki.admin, pki.admin_key), RDLM_SERVER=daemon.url))
    assert result.returncode == 0, result.stderr
    # Another subject: admin refused (108); no certificate at all: no TLS session (102).
    result = run(base + ["--cert", pki.client, "--key", pki.client_key])
    assert result.returncode == 108, (result.returncode, result.stderr)
    result = run(base)
    assert result.returncode == 102, (result.returncode, result.stderr)
    result = run([RDLM, "exec", "--server", daemon.url, "--cacert", pki.ca, "--cert", pki.client, "--key", pki.client_key,
                  "mtlsexec", "--", "sh", "-c", 'case $RDLM_LOCK_URL in https://*) exit 0;; esac; exit 9'])
    assert result.returncode == 0, result.stderr


def test_rdlm_refuses_unreadable_tls_files(pki, tmp_path):
    result = run([RDLM, "acquire", "--server", "https://127.0.0.1:1", "--cacert", str(tmp_path / "none.pem"), "x"])
    assert result.returncode != 0 and "--cacert" in result.stderr


# rdlm.h, the C client


@pytest.fixture(scope="module")
def c_client(tmp_path_factory):
    binary = str(tmp_path_factory.mktemp("c") / "tls_client")
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", os.path.join(ROOT, "Clients", "c"),
                    "-o", binary, os.path.join(HERE, "tls_client.c"), "-lcurl"], check=True)
    return binary


def test_c_client_over_https(rdlmd_tls, pki, c_client):
    daemon = rdlmd_tls()
    result = run([c_client, daemon.url, "chttps"], env=tls_env(pki))
    assert result.returncode == 0, result.stdout
    assert "lock %s/locks/chttps/" % daemon.url in result.stdout and "released" in result.stdout
    result = run([c_client, daemon.url, "chttps"], env=tls_env(pki, cafile=pki.ca2))
    assert result.returncode == 1 and "FAIL acquire" in result.stdout


def test_c_client_with_mutual_tls_and_admin_by_certificate(rdlmd_tls, pki, c_client):
    daemon = rdlmd_tls("--tls-client-ca", pki.ca, "--tls-admin-subject", "rdlm-admin", "--admin-userpass-file", "no")
    result = run([c_client, daemon.url, "cmtls", "admin"], env=tls_env(pki, pki.admin, pki.admin_key))
    assert result.returncode == 0, result.stdout
    assert '"name":"cmtls"' in result.stdout.replace(" ", "")
    result = run([c_client, daemon.url, "cmtls", "admin"], env=tls_env(pki, pki.client, pki.client_key))
    assert "FAIL admin" in result.stdout and "HTTP 403" in result.stdout
    result = run([c_client, daemon.url, "cmtls"], env=tls_env(pki))
    assert "FAIL acquire" in result.stdout and "HTTP 0" in result.stdout


# rdlm.sh, the shell client


SCRIPT = '''. "$1"
lock=$(rdlm_acquire shhttps 30 5) || exit
echo "lock $lock"
rdlm_with shwith --lifetime 30 -- sh -c 'echo "with $RDLM_LOCK_URL"' || exit
rdlm_release "$lock" && echo released
'''


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_shell_client_over_https(rdlmd_tls, pki, shell):
    daemon = rdlmd_tls()
    env = dict(tls_env(pki), RDLM_SERVER=daemon.url)
    result = run([shell, "-c", SCRIPT, "sh", SHELL_CLIENT], env=env)
    assert result.returncode == 0, result.stderr
    assert "lock %s/locks/shhttps/" % daemon.url in result.stdout and "released" in result.stdout
    result = run([shell, "-c", SCRIPT, "sh", SHELL_CLIENT], env=dict(env, RDLM_CACERT=pki.ca2))
    assert result.returncode == 102, result.stderr


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_shell_client_with_mutual_tls(rdlmd_tls, pki, shell):
    daemon = rdlmd_tls("--tls-client-ca", pki.ca)
    env = dict(tls_env(pki, pki.client, pki.client_key), RDLM_SERVER=daemon.url)
    result = run([shell, "-c", SCRIPT, "sh", SHELL_CLIENT], env=env)
    assert result.returncode == 0, result.stderr
    assert "with %s/locks/shwith/" % daemon.url in result.stdout
    # Without the certificate the handshake fails: no answer (102).
    result = run([shell, "-c", SCRIPT, "sh", SHELL_CLIENT], env=tls_env(pki) | {"RDLM_SERVER": daemon.url})
    assert result.returncode == 102, result.stderr
    # A certificate file that cannot be read is a usage error (103).
    result = run([shell, "-c", SCRIPT, "sh", SHELL_CLIENT], env=dict(env, RDLM_CERT="/nonexistent.pem"))
    assert result.returncode == 103, result.stderr
