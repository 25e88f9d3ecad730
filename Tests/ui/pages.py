"""What the admin page's tests share: locks taken with curl, the page's rows and connection
state read from the DOM, explicit waits, and WCAG contrast measured in the browser."""
import json
import subprocess

from selenium.common.exceptions import JavascriptException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

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
