"""The admin page, GET /ui, in headless Chromium against the daemon binary: a lock taken
with curl shows within 1 s and counts down, waiters queue in order, deleting the holder from
the page hands the lock over, the daemon going away and coming back is shown, Basic and
forbidden admin modes, the keyboard, the filter, colour contrast (WCAG AA) and the layout at
a phone's and a desktop's width (with screenshots)."""
import base64
import json
import os
import subprocess
import time

from selenium.common.exceptions import JavascriptException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import free_port, wait_until

TIMEOUT = 30  # generous: the machine is a loaded 2-core one


def curl_acquire(daemon, resource, title, lifetime=60, wait=0, mode="exclusive"):
    """Acquires with curl; returns (status, lock path)."""
    body = json.dumps({"title": title, "lifetime": lifetime, "wait": wait, "mode": mode})
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "-X", "POST", "-d", body,
                          daemon.url + "/locks/" + resource],
                         check=True, capture_output=True, text=True, timeout=TIMEOUT).stdout
    status = int(out.split()[1])
    location = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.lower().startswith("location:")]
    return status, ("/" + location[0].split("/", 3)[3]) if location else None


def curl_waiter(daemon, resource, title, wait=60, mode="exclusive"):
    """A curl acquire that waits in the queue; its status code is its output."""
    body = json.dumps({"title": title, "lifetime": 60, "wait": wait, "mode": mode})
    return subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-d", body,
                             daemon.url + "/locks/" + resource], stdout=subprocess.PIPE, text=True)


def waiters_of(daemon, resource):
    answer = daemon.request("GET", "/resources/" + resource)
    if answer.status != 200:
        return 0
    return sum(1 for lock in json.loads(answer.body).get("_embedded", {}).get("locks", []) if not lock["active"])


ROWS = """
return Array.from(document.querySelectorAll('#resources section')).map(s => ({
  resource: s.dataset.resource,
  rows: Array.from(s.querySelectorAll('tr.lock')).map(r => ({
    uid: r.dataset.uid,
    state: r.querySelector('.state').textContent,
    title: r.querySelector('.title').textContent,
    mode: r.querySelector('.mode').textContent,
    token: r.querySelector('.token').textContent,
    since: r.querySelector('.since').textContent,
    countdown: r.querySelector('.countdown').textContent,
  })),
}));
"""


def page_rows(browser):
    """{resource: [row, ...]} as the page shows them, in order."""
    return {section["resource"]: section["rows"] for section in browser.execute_script(ROWS)}


def until(browser, condition, what, timeout=TIMEOUT, poll=0.05):
    return WebDriverWait(browser, timeout, poll_frequency=poll).until(lambda _: condition(), message=what)


def connection_state(browser):
    return browser.execute_script("return [document.getElementById('connection').dataset.state,"
                                  " document.getElementById('connection').textContent]")


def open_page(browser, daemon, states=("live",)):
    browser.get(daemon.url + "/ui")
    until(browser, lambda: connection_state(browser)[0] in states, "the page to connect (%s)" % (states,))
    if "live" not in states:
        return
    # The snapshot has been applied once the summary says how many resources there are.
    until(browser, lambda: "resource" in browser.find_element(By.ID, "summary").text, "the snapshot")


def seconds_left(text):
    assert text.endswith(" s") and "min" not in text, text
    return float(text[:-2])


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
    for path, kind in (("/ui/app.js", "text/javascript; charset=utf-8"), ("/ui/app.css", "text/css; charset=utf-8")):
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


def test_keyboard_reaches_a_delete_button_and_enter_asks_for_confirmation(browser, rdlmd):
    daemon = rdlmd("--admin-userpass-file", "yes")
    open_page(browser, daemon)
    status, path = curl_acquire(daemon, "kbd", "typed")
    assert status == 201
    until(browser, lambda: "kbd" in page_rows(browser), "the lock")
    browser.find_element(By.ID, "filter").click()
    label = None
    for _ in range(10):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        label = browser.execute_script("return document.activeElement.getAttribute('aria-label')")
        if label == "Delete lock typed on kbd":
            break
    assert label == "Delete lock typed on kbd", "Tab never reached the lock's delete button"
    focus_outline = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert focus_outline == "solid"  # a visible focus
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    until(browser, lambda: browser.find_element(By.ID, "confirm").get_attribute("open") is not None, "the confirmation")
    assert browser.execute_script("return document.activeElement.id") == "confirm-cancel"  # the safe choice first
    ActionChains(browser).send_keys(Keys.ENTER).perform()  # Cancel
    until(browser, lambda: browser.find_element(By.ID, "confirm").get_attribute("open") is None, "the dialog to close")
    assert daemon.request("GET", path).status == 200  # cancelled: still held
    assert browser.execute_script("return document.activeElement.getAttribute('aria-label')") == label


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


def test_basic_mode_prompts_and_the_page_works_with_the_credentials(browser, rdlmd, tmp_path):
    users = tmp_path / "admins"
    users.write_text("admin:s3cret\n")
    daemon = rdlmd("--admin-userpass-file", users)
    # Without credentials the document answers 401 with a challenge: the browser prompts.
    unauthenticated = subprocess.run(["curl", "-s", "-i", daemon.url + "/ui"], capture_output=True, text=True,
                                     timeout=TIMEOUT, check=True).stdout
    assert unauthenticated.startswith("HTTP/1.1 401")
    assert 'WWW-Authenticate: Basic realm="rdlm"' in unauthenticated
    wrong = daemon.request("GET", "/ui", headers={"Authorization": "Basic " + base64.b64encode(b"admin:no").decode()})
    assert wrong.status == 401
    assert daemon.request("GET", "/ui/app.js").status == 200  # the same code for everyone
    assert curl_acquire(daemon, "secured", "with-auth")[0] == 201
    # Selenium cannot type into the browser's prompt: the header it would send, through CDP.
    browser.execute_cdp_cmd("Network.enable", {})
    header = "Basic " + base64.b64encode(b"admin:s3cret").decode()
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": header}})
    try:
        open_page(browser, daemon)
        until(browser, lambda: "secured" in page_rows(browser), "the lock, read with the credentials")
        browser.find_element(By.CSS_SELECTOR, 'section[data-resource="secured"] button.delete-resource').click()
        until(browser, lambda: browser.find_element(By.ID, "confirm").get_attribute("open") is not None, "the confirmation")
        browser.find_element(By.ID, "confirm-delete").click()  # an admin DELETE, with the credentials
        until(browser, lambda: "secured" not in page_rows(browser), "the resource deleted")
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    # Credentials in the URL, as a bookmark may hold them: the page's own requests go to
    # its origin, without them in the URL (fetch would refuse), and the browser adds them.
    assert curl_acquire(daemon, "again", "url-credentials")[0] == 201
    browser.get(daemon.url.replace("://", "://admin:s3cret@") + "/ui")
    until(browser, lambda: "again" in page_rows(browser), "the lock, with credentials from the URL")
    browser.find_element(By.CSS_SELECTOR, 'section[data-resource="again"] button.delete-resource').click()
    until(browser, lambda: browser.find_element(By.ID, "confirm").get_attribute("open") is not None, "the confirmation")
    browser.find_element(By.ID, "confirm-delete").click()
    until(browser, lambda: "again" not in page_rows(browser), "the resource deleted")


def test_with_admin_requests_forbidden_the_page_explains_instead_of_an_empty_table(browser, rdlmd):
    daemon = rdlmd("--admin-userpass-file", "no")
    assert daemon.request("GET", "/ui").status == 200  # the page loads, to explain
    assert daemon.request("GET", "/events").status == 403
    assert curl_acquire(daemon, "hidden", "x")[0] == 201
    open_page(browser, daemon, states=("forbidden",))
    notice = browser.find_element(By.ID, "notice")
    assert notice.is_displayed() and "disabled" in notice.text and "--admin-userpass-file" in notice.text
    assert not browser.find_element(By.ID, "view").is_displayed()
    assert page_rows(browser) == {}
    assert_contrast(browser, ["#notice h2", "#notice p", "#connection"])


def test_when_the_stream_is_unavailable_the_page_says_so_and_not_that_there_are_no_locks(browser, rdlmd):
    # The etcd backend answers /events with 503 for now; an unreachable etcd is enough.
    daemon = rdlmd("--admin-userpass-file", "yes", "--etcd-endpoints", "http://127.0.0.1:%d" % free_port())
    assert daemon.request("GET", "/events").status == 503
    open_page(browser, daemon, states=("unavailable",))
    notice = browser.find_element(By.ID, "notice")
    until(browser, lambda: notice.is_displayed() and "503" in notice.text, "the explanation")
    assert "etcd backend" in notice.text  # the daemon's own reason
    assert not browser.find_element(By.ID, "empty").is_displayed()
    assert_contrast(browser, ["#notice h2", "#notice p", "#connection"])


CONTRAST = """
function rgba(text) {
  const m = text.match(/rgba?\\(([^)]+)\\)/);
  if (!m) throw new Error('colour ' + text);
  const p = m[1].split(',').map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function background(el) {
  for (let node = el; node; node = node.parentElement) {
    const c = rgba(getComputedStyle(node).backgroundColor);
    if (c[3] > 0) { if (c[3] < 1) throw new Error('translucent background on ' + node.tagName); return c; }
  }
  return [255, 255, 255, 1];
}
function luminance(c) {
  const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function ratio(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}
const out = [];
for (const selector of arguments[0]) {
  const [sel, pseudo] = selector.split('::');
  const els = document.querySelectorAll(sel);
  if (!els.length) throw new Error('nothing matches ' + selector);
  for (const el of els) {
    const style = getComputedStyle(el, pseudo ? '::' + pseudo : null);
    if (style.display === 'none' || el.offsetParent === null && el.tagName !== 'BODY') continue;
    out.push([selector, ratio(rgba(style.color), background(el))]);
  }
}
return out;
"""


def assert_contrast(browser, selectors):
    try:
        measured = browser.execute_script(CONTRAST, selectors)
    except JavascriptException as error:
        raise AssertionError(error.msg)
    assert {selector for selector, _ in measured} == set(selectors), "not every element was visible"
    low = [(selector, round(value, 2)) for selector, value in measured if value < 4.5]
    assert not low, "contrast below WCAG AA's 4.5:1: %s" % low


MAIN_ELEMENTS = ["body", "h1", "#connection", "label[for=filter]", "#filter", "#summary", ".legend", ".resource-head h2 .name",
                 ".counts", "caption", "th", "td.title", "td.token", "td.since", "td.countdown", ".role.holder",
                 ".role.waiter", "button.delete-lock", "button.delete-resource"]


def test_contrast_layout_and_screenshots_at_phone_and_desktop_widths(browser, rdlmd, artefacts):
    daemon = rdlmd("--admin-userpass-file", "yes")
    assert curl_acquire(daemon, "backup", "nightly-backup db1", lifetime=3600)[0] == 201
    assert curl_acquire(daemon, "reports", "quarterly report", lifetime=900, mode="shared")[0] == 201
    assert curl_acquire(daemon, "reports", "dashboard refresh", lifetime=300, mode="shared")[0] == 201
    assert curl_acquire(daemon, "deploy", "ci pipeline #4812", lifetime=600)[0] == 201
    waiters = []
    try:
        for resource, title, mode, count in (("deploy", "ci pipeline #4813", "exclusive", 1),
                                             ("deploy", "hotfix rollout", "exclusive", 2),
                                             ("reports", "schema migration", "exclusive", 1)):
            waiters.append(curl_waiter(daemon, resource, title, wait=300, mode=mode))
            wait_until(lambda: waiters_of(daemon, resource) == count, timeout=TIMEOUT, what=title + " queued")
        shots = {}
        for name, (width, height) in (("desktop", (1280, 800)), ("phone", (390, 844))):
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": name == "phone"})
            open_page(browser, daemon)
            until(browser, lambda: sum(len(rows) for rows in page_rows(browser).values()) == 7, "seven locks")
            assert browser.execute_script("return innerWidth") == width
            # Readable: nothing wider than the screen, so no sideways scrolling.
            assert browser.execute_script("return document.documentElement.scrollWidth") <= width
            assert_contrast(browser, MAIN_ELEMENTS + (["td.title::before"] if name == "phone" else []))
            shots[name] = os.path.join(artefacts, "ui-%s-%dx%d.png" % (name, width, height))
            assert browser.save_screenshot(shots[name])
        # The phone's layout is the stacked one: the column names are on each line.
        assert browser.execute_script("return getComputedStyle(document.querySelector('td.title'), '::before').content") == '"Title"'
        for path in shots.values():
            assert os.path.getsize(path) > 10000
        # Connection lost: the banner keeps its contrast.
        daemon.stop()
        until(browser, lambda: connection_state(browser)[0] == "lost", "the connection lost")
        assert_contrast(browser, ["#connection"])
        # No Content-Security-Policy violation: nothing inline, nothing from elsewhere.
        logs = [entry["message"] for entry in browser.get_log("browser")]
        assert not [m for m in logs if "Content Security Policy" in m or "Refused to" in m], logs
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        for waiter in waiters:
            waiter.kill()
            waiter.wait()
