"""GET /metrics from the daemon binary, read by Prometheus's own Python parser
(prometheus-client), the way a scraper with Basic auth sees it."""
import base64
import json

from prometheus_client.parser import text_string_to_metric_families

from conftest import wait_until


def basic(credentials):
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def families(text):
    """{family name: {(sample name, sorted labels): value}}, parsed strictly."""
    parsed = {}
    for family in text_string_to_metric_families(text):
        samples = parsed.setdefault(family.name, {})
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


def acquire(daemon, resource, **body):
    body = {"title": "ops", "lifetime": 30, "wait": 5, **body}
    return daemon.request("POST", "/locks/" + resource, json.dumps(body))


def test_a_scraper_with_basic_auth_reads_every_family(rdlmd, tmp_path):
    admins = tmp_path / "admins"
    admins.write_text("prometheus:scrape\n")
    daemon = rdlmd("--admin-userpass-file", admins, "--data-dir", tmp_path / "data")
    assert daemon.request("GET", "/metrics").status == 401
    assert daemon.request("GET", "/metrics", headers={"Authorization": basic("prometheus:nope")}).status == 401

    held = acquire(daemon, "nightlyreport")
    assert held.status == 201
    assert acquire(daemon, "nightlyreport", wait=0).status == 408
    assert daemon.request("POST", "/locks/nightlyreport", "{").status == 400
    path = "/" + held.headers["Location"].split("/", 3)[3]
    assert daemon.request("DELETE", path).status == 204

    answer = daemon.request("GET", "/metrics", headers={"Authorization": basic("prometheus:scrape")})
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    metrics = families(answer.body)

    acquires = {dict(labels)["outcome"]: value for (_, labels), value in metrics["rdlm_acquires"].items()}
    assert acquires["granted_at_once"] == 1
    assert acquires["wait_timed_out"] == 1
    assert acquires["refused_client_error"] == 1
    assert metrics["rdlm_releases"][("rdlm_releases_total", ())] == 1
    assert metrics["rdlm_locks_held"][("rdlm_locks_held", ())] == 0
    assert metrics["rdlm_journal_fsync_seconds"][("rdlm_journal_fsync_seconds_count", ())] >= 2
    assert metrics["rdlm_build_info"][("rdlm_build_info", (("backend", "data-dir"), ("version", "0.1.0")))] == 1
    for name in ["rdlm_expiries", "rdlm_refreshes", "rdlm_admin_deletes", "rdlm_requests_waiting", "rdlm_resources",
                 "rdlm_open_connections", "rdlm_acquire_wait_seconds", "rdlm_lock_held_seconds",
                 "rdlm_request_duration_seconds"]:
        assert name in metrics, name
    assert "nightlyreport" not in answer.body


def test_a_daemon_that_forbids_admin_requests_forbids_metrics(rdlmd):
    daemon = rdlmd("--admin-userpass-file", "no")
    answer = daemon.request("GET", "/metrics")
    assert answer.status == 403
    # The probes stay open whatever the admin setting.
    wait_until(lambda: daemon.request("GET", "/ready").status == 200, timeout=30, what="/ready")
