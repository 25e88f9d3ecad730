"""--log-format json: every line rdlmd writes is one JSON object, for log shippers."""
import json

LOCK = '{"title": "t", "lifetime": 5, "wait": 1}'


def test_every_line_is_a_json_object(rdlmd):
    daemon = rdlmd("--log-format", "json", "--log-level", "debug", "--admin-userpass-file", "no")
    acquired = daemon.request("POST", "/locks/logs", body=LOCK)
    assert acquired.status == 201, acquired
    lines = [line for line in daemon.log_text().splitlines() if line]
    assert len(lines) >= 2, lines
    objects = [json.loads(line) for line in lines]
    for entry in objects:
        assert set(entry) >= {"time", "level", "label", "source", "message"}, entry
        assert entry["time"].endswith("Z"), entry
    messages = [entry["message"] for entry in objects]
    assert any(message.startswith("rdlmd listening on") for message in messages), messages
    assert any(entry["level"] == "debug" and "metadata" in entry for entry in objects), objects
