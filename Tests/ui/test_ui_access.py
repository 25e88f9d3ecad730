"""The admin page's access and accessibility in headless Chromium: Basic credentials (the
browser's prompt), admin requests forbidden, the stream unavailable, the keyboard, colour
contrast (WCAG AA), and the layout at a phone's and a desktop's width, with screenshots."""
import base64
import os
import subprocess

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import free_port, wait_until
from pages import TIMEOUT, assert_contrast, connection_state, curl_acquire, curl_waiter, open_page, page_rows, until, waiters_of


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
    # Now for real, all by keyboard: Enter, Tab to Delete, Enter.
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    until(browser, lambda: browser.find_element(By.ID, "confirm").get_attribute("open") is not None, "the confirmation")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.execute_script("return document.activeElement.id") == "confirm-delete"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    until(browser, lambda: "kbd" not in page_rows(browser), "the lock deleted")
    assert daemon.request("GET", path).status == 404
    # The focus was on the deleted lock's button: it goes to the filter, not to the page's top.
    assert browser.execute_script("return document.activeElement.id") == "filter"


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
    # The etcd backend answers /events with 503 until it has read the lock space: an unreachable etcd.
    daemon = rdlmd("--admin-userpass-file", "yes", "--etcd-endpoints", "http://127.0.0.1:%d" % free_port(), "--etcd-events")
    assert daemon.request("GET", "/events").status == 503
    open_page(browser, daemon, states=("unavailable",))
    notice = browser.find_element(By.ID, "notice")
    until(browser, lambda: notice.is_displayed() and "503" in notice.text, "the explanation")
    assert "etcd backend" in notice.text  # the daemon's own reason
    assert not browser.find_element(By.ID, "empty").is_displayed()
    assert_contrast(browser, ["#notice h2", "#notice p", "#connection"])


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
