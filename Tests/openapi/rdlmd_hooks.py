"""schemathesis hooks for Tests/openapi/run_schemathesis.sh.

The document's bounds are rdlmd's defaults (a `wait` of up to 3600 s). The fuzzed daemon
runs with `--max-wait 2`, so that no request parks for long, which makes most generated
waits a 400. That answer is documented, but it would leave granting, queueing and the
lock documents barely exercised; so an acquire's numeric `wait` above 2 s is folded into
[0, 2) before it is sent. Nothing else is changed, and every check still judges the
request as sent.
"""
import schemathesis

MAX_WAIT = 2


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.method.upper() != "POST" or case.operation.path != "/locks/{resource}":
        return
    body = case.body
    if isinstance(body, dict):
        wait = body.get("wait")
        if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait > MAX_WAIT:
            body["wait"] = round(wait % MAX_WAIT, 6)
