"""The RCM console in real headless Chromium (Debian's chromium + chromedriver, driven by selenium with
``/usr/bin/chromedriver`` — never selenium-manager downloads): every page loads, the charts are drawn with
data, a work item is assigned, noted and closed through the forms (audited with the console user), axe-core
(4.10.3, vendored under tests/browser/axe-core) finds no WCAG 2.1 A/AA violation on any page in light and dark mode, the browser logs no error, and a
phone-width viewport never scrolls sideways. One browser and one server for the module; under CI=true a
missing chromium/chromedriver fails.

The database is SQLite here (the browser adds nothing backend-specific); tests/integration/test_console.py
runs the same pages and actions over HTTP on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from claimflow.db import models as m
from claimflow.db.session import make_engine
from tests.support import databases as dbs
from tests.support.console import PHI, seed_console

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
USER = "browser-user"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


AXE = Path(__file__).resolve().parent / "axe-core" / "axe.min.js"  # axe-core 4.10.3, vendored (README there)


def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import uvicorn

    from claimflow.console.app import create_app

    tmp = tmp_path_factory.mktemp("console")
    engine = make_engine(dbs.migrated_sqlite(tmp / "claimflow.db"))
    sc, file_id = seed_console(engine, tmp / "claims.837")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(engine, user=USER, data_dir=tmp),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the console did not start"
    denied = sc.claims["denied"]
    yield {"base": f"http://127.0.0.1:{port}", "engine": engine, "file_id": file_id, "claim_id": denied.id}
    server.should_exit = True
    thread.join(10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and Path(CHROMEDRIVER).is_file()):
        dbs.service_missing(f"Debian's chromium ({CHROMIUM}) and chromium-driver ({CHROMEDRIVER})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


def _pages(site: dict[str, Any]) -> list[str]:
    return [
        "/",
        "/work",
        f"/work/{_item(site['engine'])}",
        "/claims",
        f"/claims/{site['claim_id']}",
        "/files",
        f"/files/{site['file_id']}",
        "/payers",
    ]


def _item(engine: Engine, queue: str = "credit_balances") -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(m.WorkItem.id).where(m.WorkItem.queue == queue)).scalar_one())


def _navigate(driver: Any, action: Callable[[], object]) -> None:
    """Do `action` and wait until a new document has replaced this one and finished loading.

    The old document is marked by a script property that a fresh document cannot have. Waiting for an
    element to go stale instead asks chromedriver about a node mid-navigation, which now and then fails
    with "Node with given id does not belong to the document" (seen in CI) rather than reporting staleness.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("document.__claimflowOld = true")
    action()
    WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !document.__claimflowOld && document.readyState === 'complete'")
    )


def _submit(driver: Any, button_id: str) -> None:
    """Click a form's button and wait for the page it leads to (no reading the old DOM)."""
    _navigate(driver, driver.find_element("id", button_id).click)


def _scheme(driver: Any, scheme: str) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )


def _errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_pages_load_charts_draw_and_axe_finds_nothing_light_and_dark(
    site: dict[str, Any], browser: Any
) -> None:
    axe = _axe_source()
    browser.set_window_size(1280, 1000)
    browser.get_log("browser")
    for path in _pages(site):
        with urllib.request.urlopen(
            site["base"] + path
        ) as r:  # the status code, which WebDriver does not give
            assert r.status == 200, path
    for scheme in ("light", "dark"):
        _scheme(browser, scheme)
        assert browser.execute_script(f"return matchMedia('(prefers-color-scheme: {scheme})').matches")
        for path in _pages(site):
            browser.get(site["base"] + path)
            assert browser.find_element("css selector", "main h1").text, path
            assert not any(v in browser.page_source for v in PHI), path
            browser.execute_script(axe)
            result = browser.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
                ".then(r => done({violations: r.violations.map(v => ({id: v.id, impact: v.impact,"
                " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})), passes: r.passes.length}))"
                ".catch(e => done({error: String(e)}));",
                AXE_TAGS,
            )
            assert "error" not in result, result
            assert result["violations"] == [], (scheme, path, result["violations"])
            assert result["passes"] > 5
        assert _errors(browser) == [], scheme

    _scheme(browser, "light")
    browser.get(site["base"] + "/")
    marks = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg.chart')).map(s => [s.id,"
        " s.querySelectorAll('[data-value]').length, s.getBoundingClientRect().width])"
    )
    drawn = {name: (n, width) for name, n, width in marks}
    for chart in ("chart-cash", "chart-aging-payer", "chart-aging-patient", "chart-denials", "chart-kpis"):
        assert drawn[chart][0] > 0 and drawn[chart][1] > 100, (chart, drawn.get(chart))
    # The numbers are one click away: a closed <details> that opens onto a table.
    details = browser.find_element("css selector", "#cash-h ~ details summary")
    table = browser.find_element("css selector", "#cash-h ~ details table")
    assert not table.is_displayed()
    details.click()
    assert table.is_displayed() and "$" in table.text


def test_work_item_assigned_noted_and_closed_through_the_ui(site: dict[str, Any], browser: Any) -> None:
    engine: Engine = site["engine"]
    item = _item(engine, "denials")
    browser.set_window_size(1280, 1000)
    browser.get(site["base"] + "/work")
    from selenium.webdriver.support.ui import Select

    queue = Select(browser.find_element("id", "f-queue"))
    _navigate(browser, lambda: queue.select_by_value("denials"))  # auto-submits (console.js)
    assert "queue=denials" in browser.current_url
    links = browser.find_elements("css selector", "table.list tbody th a")
    assert [a.text for a in links] == [f"#{item}"]
    _navigate(browser, links[0].click)

    to = browser.find_element("id", "a-to")
    assert to.get_attribute("value") == USER
    to.clear()
    to.send_keys("ana")
    _submit(browser, "do-assign")
    assert browser.find_element("id", "item-assignee").text == "ana"
    assert browser.find_element("id", "item-status").text == "in progress"
    browser.find_element("id", "n-text").send_keys("payer wants the records")
    _submit(browser, "do-note")
    assert "payer wants the records" in browser.find_element("css selector", "pre.notes").text
    browser.find_element("id", "c-why").send_keys("appeal won")
    _submit(browser, "do-close")
    assert browser.find_element("id", "item-status").text == "closed"
    assert browser.find_elements("id", "do-close") == []
    history = browser.find_element("id", "events").text
    assert f"console:{USER}" in history and "assigned" in history and "closed" in history

    with engine.connect() as conn:
        audits = conn.execute(
            select(m.AuditLog.action, m.AuditLog.actor)
            .where(m.AuditLog.object_type == "work_item", m.AuditLog.object_id == str(item))
            .order_by(m.AuditLog.id)
        ).all()
    assert [tuple(a) for a in audits] == [
        ("work_item_assign", f"console:{USER}"),
        ("work_item_note", f"console:{USER}"),
        ("work_item_close", f"console:{USER}"),
    ]
    assert _errors(browser) == []


def test_phone_width_never_scrolls_sideways(site: dict[str, Any], browser: Any) -> None:
    browser.set_window_size(390, 844)
    for path in _pages(site):
        browser.get(site["base"] + path)
        inner, scroll = browser.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert inner <= 420 and scroll <= inner, (path, inner, scroll)
    assert _errors(browser) == []
