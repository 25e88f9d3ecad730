"""The admin page, GET /ui, in headless Chromium against the daemon binary: what it is
served with, a lock taken with curl showing within 1 s and counting down (on the server's
clock), waiters queued in order, deletes from the page (the holder's hands the lock over),
the filter, and the daemon going away and coming back."""
import json
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import wait_until
from pages import TIMEOUT, connection_state, curl_acquire, curl_waiter, open_page, page_rows, seconds_left, until, waiters_of


def test_page_and_assets_are_served_from_the_binary_with_a_strict_policy(rdlmd):
    daemon = rdlmd("--admin-userpass-file", "yes")
    page = daemon.request("GET", "/ui")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-cache"
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    # Nothing from another origin: no CDN, works offline.
    assert "http://" not in page.body and "https://" not in page.body and "//" not in page.body.replace("<!--", "")
    assert daemon.request("GET", "/ui/").body == page.body
    for path, kind in (("/ui/app.js", "text/javascript; charset=utf-8"), ("/ui/table.js", "text/javascript; charset=utf-8"),
                       ("/ui/app.css", "text/css; charset=utf-8")):
        asset = daemon.request("GET", path)
        assert asset.status == 200 and asset.headers["Content-Type"] == kind, (path, asset)
        assert asset.headers["Content-Security-Policy"] == policy
        assert "https://" not in asset.body and "http://" not in asset.body
    for path in ("/ui/app", "/ui/other.js", "/uix", "/ui/app.js/x", "/ui//"):
        answer = daemon.request("GET", path)
        assert answer.status == 404 and "not found" in answer.body, (path, answer)
    refused = daemon.request("POST", "/ui", body="x")
    assert refused.status == 405 and refused.headers["Allow"] == "GET"


def test_lock_acquired_with_curl_appears_within_one_second_and_counts_down(browser, rdlmd):
    daemon = rdlmd("--admin-userpass-file", "yes")
    open_page(browser, daemon)
    status, path = curl_acquire(daemon, "backup", "nightly", lifetime=45)
    answered = time.monotonic()
    assert status == 201
    uid = path.rsplit("/", 1)[1]
    # Polled every 20 ms from curl's answer: the row must be there within a second.
    while not browser.execute_script("return !!document.querySelector('tr.lock[data-uid=\"%s\"]')" % uid):
        assert time.monotonic() - answered < 1.0, "the lock did not appear on the page within 1 s"
        time.sleep(0.02)
    assert time.monotonic() - answered < 1.0
    row = page_rows(browser)["backup"][0]
    lock = json.loads(daemon.request("GET", path).body)
    assert row["state"] == "holder" and row["title"] == "nightly" and row["mode"] == "exclusive"
    assert row["token"] == str(lock["fencing_token"])
    assert row["since"].startswith("held since ")
    first = seconds_left(row["countdown"])
    assert 40 < first <= 45, row
    until(browser, lambda: seconds_left(page_rows(browser)["backup"][0]["countdown"]) <= first - 0.5,
          "the countdown to decrease")


def test_countdown_follows_the_servers_clock_when_the_browsers_is_an_hour_off(browser, rdlmd):
    daemon = rdlmd("--admin-userpass-file", "yes")
    # The browser's clock an hour behind the daemon's, from before the page's script runs.
    shift = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": "(() => { const real = Date.now; Date.now = () => real() - 3600000; })();"})
    try:
        open_page(browser, daemon)
        assert browser.execute_script("return Date.now() < new Date().getTime() - 3500000")
        assert curl_acquire(daemon, "skewed", "t", lifetime=45)[0] == 201
        until(browser, lambda: "skewed" in page_rows(browser), "the lock")
        left = seconds_left(page_rows(browser)["skewed"][0]["countdown"])
        assert 40 < left <= 45, left
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", shift)


def test_waiters_queue_in_order_and_deleting_the_holder_from_the_page_hands_the_lock_over(browser, rdlmd):
    daemon = rdlmd("--admin-userpass-file", "yes")
    open_page(browser, daemon)
    status, holder_path = curl_acquire(daemon, "deploy", "holder")
    assert status == 201
    waiters = []
    try:
        for number, title in enumerate(("first-waiter", "second-waiter"), start=1):
            waiters.append(curl_waiter(daemon, "deploy", title))
            wait_until(lambda: waiters_of(daemon, "deploy") == number, timeout=TIMEOUT, what="%s queued" % title)
        until(browser, lambda: len(page_rows(browser).get("deploy", [])) == 3, "three rows on deploy")
        rows = page_rows(browser)["deploy"]
        assert [(r["state"], r["title"]) for r in rows] == [
            ("holder", "holder"), ("waiter #1", "first-waiter"), ("waiter #2", "second-waiter")]
        assert rows[1]["token"] == "—" and rows[1]["since"].startswith("waiting since ")
        assert 50 < seconds_left(rows[1]["countdown"]) <= 60  # the wait deadline

        holder_uid = holder_path.rsplit("/", 1)[1]
        button = browser.find_element(By.CSS_SELECTOR, 'tr[data-uid="%s"] button.delete-lock' % holder_uid)
        assert button.get_attribute("aria-label") == "Delete lock holder on deploy"
        button.click()
        dialog = browser.find_element(By.ID, "confirm")
        until(browser, lambda: dialog.get_attribute("open") is not None, "the confirmation")
        assert "holder" in browser.find_element(By.ID, "confirm-title").text
        browser.find_element(By.ID, "confirm-delete").click()

        assert waiters[0].wait(timeout=TIMEOUT) == 0 and waiters[0].stdout.read() == "201"
        until(browser, lambda: [(r["state"], r["title"]) for r in page_rows(browser).get("deploy", [])] == [
            ("holder", "first-waiter"), ("waiter #1", "second-waiter")], "the hand-over on the page")
        assert daemon.request("GET", holder_path).status == 404
        new_holder = page_rows(browser)["deploy"][0]
        assert new_holder["token"].isdigit() and int(new_holder["token"]) > 0
        until(browser, lambda: "Deleted" in browser.find_element(By.ID, "action-status").text, "the page to say so")
    finally:
        for waiter in waiters:
            waiter.kill()
            waiter.wait()


def test_a_resource_is_deleted_from_the_page_after_confirmation(browser, rdlmd):
    daemon = rdlmd("--admin-userpass-file", "yes")
    open_page(browser, daemon)
    assert curl_acquire(daemon, "gone", "a")[0] == 201
    assert curl_acquire(daemon, "kept", "b")[0] == 201
    until(browser, lambda: set(page_rows(browser)) == {"gone", "kept"}, "both resources")
    browser.find_element(By.CSS_SELECTOR, 'section[data-resource="gone"] button.delete-resource').click()
    until(browser, lambda: browser.find_element(By.ID, "confirm").get_attribute("open") is not None, "the confirmation")
    browser.find_element(By.ID, "confirm-delete").click()
    until(browser, lambda: set(page_rows(browser)) == {"kept"}, "the resource gone from the page")
    assert daemon.request("GET", "/resources/gone").status in (200, 404)
    assert "_embedded" not in daemon.request("GET", "/resources/gone").body


def test_filter_box_narrows_the_resources_by_name(browser, rdlmd):
    daemon = rdlmd("--admin-userpass-file", "yes")
    open_page(browser, daemon)
    for name in ("alpha", "alps", "beta"):
        assert curl_acquire(daemon, name, name)[0] == 201
    until(browser, lambda: set(page_rows(browser)) == {"alpha", "alps", "beta"}, "three resources")
    box = browser.find_element(By.ID, "filter")
    assert browser.execute_script("return document.querySelector('label[for=filter]').textContent") == "Filter resources by name"
    box.send_keys("ALP")
    until(browser, lambda: list(page_rows(browser)) == ["alpha", "alps"], "the filter to apply")
    assert browser.find_element(By.ID, "summary").text == "2 of 3 resources match"
    assert curl_acquire(daemon, "alpine", "x")[0] == 201  # a change keeps the filter
    until(browser, lambda: list(page_rows(browser)) == ["alpha", "alpine", "alps"], "the new match")
    box.send_keys(Keys.BACKSPACE * 3)  # as a user would (clear() fires no input event)
    until(browser, lambda: len(page_rows(browser)) == 4, "the filter to clear")


def test_page_shows_the_daemon_going_away_and_coming_back(browser, rdlmd):
    first = rdlmd("--admin-userpass-file", "yes")
    open_page(browser, first)
    assert curl_acquire(first, "before", "old")[0] == 201
    until(browser, lambda: "before" in page_rows(browser), "the first daemon's lock")
    first.stop()
    until(browser, lambda: connection_state(browser)[0] == "lost", "the page to report the connection lost")
    state, text = connection_state(browser)
    assert "lost" in text
    assert browser.execute_script("return document.getElementById('connection').getAttribute('aria-live')") == "polite"
    second = rdlmd("--admin-userpass-file", "yes", port=first.port)
    assert curl_acquire(second, "after", "new")[0] == 201
    until(browser, lambda: connection_state(browser)[0] == "back", "the page to report the connection back")
    assert "back" in connection_state(browser)[1]
    # The new daemon's state replaces the old one (a reset and a snapshot).
    until(browser, lambda: list(page_rows(browser)) == ["after"], "the new daemon's state")
