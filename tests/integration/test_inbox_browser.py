"""The web inbox in a real browser: Debian's headless Chromium, with JavaScript switched off,
driven by Selenium through Debian's chromedriver, against `aduan serve`'s app under uvicorn over
a view built from records (no broker).

It saves a screenshot of each page into a temporary directory; with
`INBOX_SCREENSHOTS=docs python3 -m pytest tests/integration/test_inbox_browser.py` it writes
docs/inbox-agency.png and docs/inbox-admin.png, the ones docs/serve.md shows."""

from __future__ import annotations

import base64
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from streams.serve.inbox import COOKIE
from streams.serve.keys import Keyring
from streams.serve.view import View
from tests.integration.conftest import free_port
from tests.unit.streams.serve.test_inbox import (
    AUDIT,
    DANA_DESA,
    DASH,
    HOSTILE,
    add_key,
    inbox_app,
    inbox_records,
)

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )


@pytest.fixture
def keyring() -> Keyring:
    return Keyring()


@pytest.fixture
def base_url(tmp_path: Path, keyring: Keyring) -> Iterator[str]:
    """The inbox's app under uvicorn, on a free port of this machine."""
    view = View(tmp_path / "view.sqlite")
    with closing(view.writer()) as db:
        view.apply(db, inbox_records())
    port = free_port()
    config = uvicorn.Config(
        inbox_app(view, keyring), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to start as root
    options.add_argument("--disable-dev-shm-usage")  # containers give /dev/shm a few MB
    options.add_argument("--window-size=1200,800")
    # The pages must work without JavaScript: the browser runs none.
    options.add_experimental_option(
        "prefs", {"profile.managed_default_content_settings.javascript": 2}
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("INBOX_SCREENSHOTS") or tmp_path / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


def sign_in(browser: WebDriver, base_url: str, key: str, landing: str) -> None:
    """Paste `key` into the form and sign in; `landing` is an XPath the next page matches."""
    browser.get(f"{base_url}/inbox")
    browser.find_element(By.ID, "key").send_keys(key)
    submit(browser, "/inbox/sign-in", landing)


def submit(browser: WebDriver, action: str, landing: str) -> None:
    """Press the button of the form that posts to `action`, and wait for the page that matches
    the XPath `landing`.

    Waiting for the old page to go stale is not enough: chromedriver may answer a look at an
    element of the page it is leaving with an inspector error instead of a stale element."""
    browser.find_element(By.CSS_SELECTOR, f"form[action='{action}'] button").click()
    wait = WebDriverWait(browser, 30)
    wait.until(lambda driver: driver.find_elements(By.XPATH, landing))
    # The driver's own script, not the page's: that one the browser does not run.
    wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")


def table(browser: WebDriver, attribute: str) -> dict[str, list[str]]:
    """The cells' texts of the rows that carry `data-<attribute>`, by its value."""
    return {
        str(row.get_attribute(f"data-{attribute}")): [
            cell.text for cell in row.find_elements(By.TAG_NAME, "td")
        ]
        for row in browser.find_elements(By.CSS_SELECTOR, f"tr[data-{attribute}]")
    }


def save_page(browser: WebDriver, path: Path) -> None:
    """The whole page as a PNG, beyond the window's height."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def test_an_agency_and_the_admin_sign_in_through_the_form_and_see_their_pages(
    browser: WebDriver, base_url: str, keyring: Keyring, screenshots: Path
) -> None:
    kejati, admin = add_key(keyring, "kejati-jateng"), add_key(keyring, None)

    sign_in(browser, base_url, "aduan_0123456789abcdef_" + "A" * 43, "//*[@role='alert']")
    assert browser.find_element(By.CSS_SELECTOR, "[role=alert]").text.startswith(
        "That key is not valid."
    )
    assert browser.get_cookie(COOKIE) is None

    sign_in(browser, base_url, kejati, "//h1[.='Kejaksaan Tinggi Jawa Tengah']")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Kejaksaan Tinggi Jawa Tengah"
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/inbox")
    cases = table(browser, "case")
    assert list(cases) == [
        "kejati-jateng:12",
        "kejati-jateng:11",
        "kejati-jateng:15",
        "kejati-jateng:14",
    ]
    assert cases["kejati-jateng:12"][2:] == [
        "Tue 2 Jun 2026",
        "overdue by 2",
        f"{DANA_DESA}\nthe post on X",
    ]
    assert cases["kejati-jateng:11"][2:4] == ["Tue 9 Jun 2026", "3 left"]
    assert cases["kejati-jateng:14"][4] == HOSTILE  # shown as text, never run
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.accept()
    link = browser.find_element(By.CSS_SELECTOR, "tr[data-case='kejati-jateng:12'] a")
    assert link.get_attribute("href") == "https://x.com/warga/status/12"
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-case='kejati-jateng:14'] a")
    assert AUDIT not in browser.page_source  # bpk-jateng's
    save_page(browser, screenshots / "inbox-agency.png")

    submit(browser, "/inbox/sign-out", "//input[@id='key']")
    assert browser.get_cookie(COOKIE) is None
    assert browser.find_element(By.ID, "key").get_attribute("type") == "password"

    sign_in(browser, base_url, admin, "//h1[.='Province overview']")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Province overview"
    standings = table(browser, "agency")
    assert list(standings) == ["bpk-jateng", "pt-semarang", "kejati-jateng", "pemprov-jateng"]
    assert [row[0] for row in standings.values()] == ["1", "2", "3", DASH]
    assert [row[5] for row in standings.values()] == ["100%", "67%", "33%", DASH]
    save_page(browser, screenshots / "inbox-admin.png")
