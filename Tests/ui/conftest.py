"""Fixtures for the admin page in headless Chromium (Debian's chromium and chromium-driver,
Selenium from PyPI).

`rdlmd(*flags, port=None)` starts .build/debug/rdlmd (or $RDLMD) on a free loopback port
(or `port`, to restart a daemon where the page expects it), waits until it answers, and
stops it when the test ends. `browser` is one headless Chromium for the whole module.
Screenshots go to $RDLM_ARTEFACTS (default .build/ui-artefacts). Waits poll with deadlines;
nothing sleeps and hopes.
"""
import os
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pysupport"))
from rdlm_testing import Daemon, free_port, wait_until  # noqa: E402,F401  (imported by the tests from here)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RDLMD = os.environ.get("RDLMD", os.path.join(ROOT, ".build", "debug", "rdlmd"))
ARTEFACTS = os.environ.get("RDLM_ARTEFACTS", os.path.join(ROOT, ".build", "ui-artefacts"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture
def rdlmd(tmp_path):
    started = []

    def start(*flags, port=None):
        daemon = Daemon(RDLMD, str(tmp_path), [str(flag) for flag in flags], port=port)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,800", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver named explicitly: Selenium Manager then downloads nothing.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def artefacts():
    os.makedirs(ARTEFACTS, exist_ok=True)
    return ARTEFACTS
