"""The original RDLM's Python client (rdlm-py 0.2.0, unchanged) against rdlmd.

RDLM_PORT names an rdlmd with open admin requests; RDLM_AUTH_PORT one whose admin
requests need the credentials RDLM_AUTH_USER / RDLM_AUTH_PASSWORD.
"""
import datetime
import os
import re
import threading

import pytest
from rdlmpy import RDLMClient, RDLMContextManager
from rdlmpy.exceptions import (RDLMLockDeletedException, RDLMLockWaitExceededException,
                               RDLMServerException)

PORT = int(os.environ["RDLM_PORT"])
AUTH_PORT = int(os.environ["RDLM_AUTH_PORT"])
USER = os.environ["RDLM_AUTH_USER"]
PASSWORD = os.environ["RDLM_AUTH_PASSWORD"]
LOCK_URL = re.compile(r"^http://127\.0\.0\.1:%d/locks/(\w+)/([0-9a-f]{32})$" % PORT)


@pytest.fixture
def client():
    client = RDLMClient(server="127.0.0.1", port=PORT, default_lifetime=30, default_wait=5)
    yield client
    client.resource_delete_all()


def test_acquire_returns_an_absolute_lock_url(client):
    url = client.lock_acquire("pyacquire")
    match = LOCK_URL.match(url)
    assert match and match.group(1) == "pyacquire"


def test_release_deletes_once(client):
    url = client.lock_acquire("pyrelease")
    assert client.lock_release(url) is True
    assert client.lock_release(url) is False


def test_get_parses_an_active_lock(client):
    url = client.lock_acquire("pyget", lifetime=60, title="compat test")
    lock = client.lock_get(url)
    assert lock.active is True
    assert lock.title == "compat test"
    assert lock.lifetime == 60
    assert lock.uid == url.rsplit("/", 1)[1]
    assert lock.active_expires - lock.active_since == datetime.timedelta(seconds=60)
    assert client.lock_get(url + "0") is None


def test_wait_exceeded_raises(client):
    client.lock_acquire("pybusy")
    with pytest.raises(RDLMLockWaitExceededException):
        client.lock_acquire("pybusy", wait=1)


def test_waiter_gets_the_lock_when_the_holder_releases(client):
    holder = client.lock_acquire("pyhandoff")
    result = {}
    waiter = threading.Thread(target=lambda: result.update(url=client.lock_acquire("pyhandoff", wait=20)))
    waiter.start()
    wait_until(lambda: len(client.resource_get_all_locks("pyhandoff")) == 2)
    assert client.lock_release(holder)
    waiter.join(20)
    assert LOCK_URL.match(result["url"])


def test_context_manager_holds_and_releases():
    with RDLMContextManager("pycontext", server="127.0.0.1", port=PORT, lifetime=30, wait=5):
        locks = RDLMClient(server="127.0.0.1", port=PORT).resource_get_all_locks("pycontext")
        assert [lock.active for lock in locks] == [True]
    assert RDLMClient(server="127.0.0.1", port=PORT).resource_get_all_locks("pycontext") == []


def test_resource_listing(client):
    client.lock_acquire("pylistone")
    client.lock_acquire("pylisttwo")
    assert {"pylistone", "pylisttwo"} <= set(client.resource_get_all())


def test_locks_listing_shows_holder_then_waiter(client):
    client.lock_acquire("pyqueue", title="holder")
    waiter = threading.Thread(target=lambda: swallow(lambda: client.lock_acquire("pyqueue", wait=20, title="waiter")))
    waiter.start()
    wait_until(lambda: len(client.resource_get_all_locks("pyqueue")) == 2)
    holder, queued = client.resource_get_all_locks("pyqueue")
    assert (holder.active, holder.title) == (True, "holder")
    assert (queued.active, queued.title) == (False, "waiter")
    assert queued.wait_expires > queued.wait_since
    client.resource_delete("pyqueue")
    waiter.join(20)


def test_admin_delete_answers_waiters_with_deleted(client):
    client.lock_acquire("pydelete")
    errors = []
    waiter = threading.Thread(target=lambda: swallow(lambda: client.lock_acquire("pydelete", wait=20), errors))
    waiter.start()
    wait_until(lambda: len(client.resource_get_all_locks("pydelete")) == 2)
    assert client.resource_delete("pydelete") is True
    waiter.join(20)
    assert [type(e) for e in errors] == [RDLMLockDeletedException]
    assert client.resource_delete("pydelete") is False


def test_delete_all(client):
    client.lock_acquire("pyallone")
    assert client.resource_delete_all() is True
    assert client.resource_get_all() == []


def test_admin_credentials_are_required_when_configured():
    client = RDLMClient(server="127.0.0.1", port=AUTH_PORT)
    client.lock_acquire("pyauth")
    with pytest.raises(RDLMServerException):
        client.resource_get_all()
    assert client.resource_delete("pyauth", username=USER, password="wrong") is False
    assert client.resource_get_all(username=USER, password=PASSWORD) == ["pyauth"]
    assert client.resource_delete("pyauth", username=USER, password=PASSWORD) is True


def swallow(action, errors=None):
    try:
        action()
    except Exception as error:  # the waiter's outcome is checked by its test
        if errors is not None:
            errors.append(error)


def wait_until(condition, seconds=20):
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=seconds)
    while not condition():
        assert datetime.datetime.now() < deadline, "condition not met in time"
        threading.Event().wait(0.02)
