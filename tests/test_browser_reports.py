"""The reports page in a real browser: log in, the charts drawn (ECharts, served by the hub), the numbers
shown are the API's, a clerk's scorecard, the other language, a file downloaded.

A hub process serves the known day of tests/stats_day.py (built through the
core into its database before it starts). Every wait is on what the page
shows, with a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from tests import stats_day as known
from tests.support import ADMIN_PASSWORD, HubProcess, bearer, login, provision, running_hub
from tests.test_reports_api import SITE

pytestmark = pytest.mark.browser

TIMEOUT = 20_000
DAY = known.DAY.isoformat()


@pytest.fixture(scope="module")
def reports_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    folder = tmp_path_factory.mktemp("reports-browser")
    url = f"sqlite:///{folder / 'qcall.db'}"
    known.build_day(url).store.engine.dispose()
    site = folder / "site.toml"
    site.write_text(SITE.format(url=url), encoding="utf-8")
    provision(site, 3)
    with running_hub(site, folder) as hub:
        yield hub


#: How many pixels of a drawn chart's canvas are not blank (JS in the page).
INKED = """id => {
  const canvas = document.querySelector('#' + id + ' canvas');
  if (!canvas || !canvas.width) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i + 3] && (data[i] < 200 || data[i + 1] < 200)) inked++;
  return inked;
}"""


def console_error(message: Any, errors: list[str]) -> None:
    """Errors in the console (a CSP violation by ECharts, say), except the 401 of the login's first
    GET /auth/me (no session yet: that is how the page knows to show the form)."""
    if message.type == "error" and "/auth/me" not in (message.location or {}).get("url", ""):
        errors.append(message.text)


def shown_figures(page: Any, scope: str) -> dict[str, str]:
    """``{figure: data-value}`` of the cells under ``scope``."""
    return page.eval_on_selector_all(
        f"{scope} [data-figure][data-value]",
        "cells => Object.fromEntries(cells.map(c => [c.dataset.figure, c.dataset.value]))",
    )


def as_shown(value: Any) -> str:
    """A figure as the page writes it in data-value (JS's String of the JSON value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


COLUMNS = {
    "issued": ("tickets", "issued"),
    "served": ("tickets", "served"),
    "no_show": ("tickets", "no_show"),
    "cancelled": ("tickets", "cancelled"),
    "transferred": ("tickets", "transferred"),
    "transferred_in": ("tickets", "transferred_in"),
    "wait_p50": ("waiting", "p50"),
    "wait_p90": ("waiting", "p90"),
    "service_p50": ("service_time", "p50"),
    "service_p90": ("service_time", "p90"),
    "ratings": ("satisfaction", "ratings"),
    "share": ("satisfaction", "share"),
    "target_met": ("satisfaction", "target_met"),
}


def expected(group: dict[str, Any], names: Any = COLUMNS) -> dict[str, str]:
    return {name: as_shown(group[COLUMNS[name][0]][COLUMNS[name][1]]) for name in names}


def check_numbers(page: Any, report: dict[str, Any]) -> None:
    """The totals and every table cell on the page are the API report's figures."""
    totals = shown_figures(page, "#totals")
    assert totals == expected(report["total"], totals)
    assert set(totals) >= {"issued", "served", "no_show", "wait_p50", "wait_p90", "share"}
    paths = page.eval_on_selector_all(
        "section[data-section='handoff'] tbody tr",
        "rows => rows.map(r => [r.dataset.from, r.dataset.to,"
        " Number(r.querySelector('td.num').dataset.value)])",
    )
    assert paths == [[h["from"], h["to"], h["count"]] for h in report["handoffs"]]
    for by, groups in report["sections"].items():
        rows = page.query_selector_all(f"section[data-section='{by}'] tbody tr")
        assert len(rows) == len(groups), by
        for row, group in zip(rows, groups, strict=True):
            key = "" if group["key"] is None else str(group["key"])
            assert row.get_attribute("data-key") == key
            cells = {
                td.get_attribute("data-figure"): td.get_attribute("data-value")
                for td in row.query_selector_all("td[data-figure]")
            }
            assert cells == expected(group), (by, key)


def test_the_reports_page_draws_the_apis_numbers(
    browser: Any, reports_hub: HubProcess, tmp_path: Path
) -> None:
    admin = bearer(login(reports_hub.url, "admin", None, ADMIN_PASSWORD))
    daily = requests.get(
        f"{reports_hub.url}/api/v1/reports/daily?day={DAY}", headers=admin, timeout=20
    ).json()
    monthly = requests.get(
        f"{reports_hub.url}/api/v1/reports/monthly?month=2026-03", headers=admin, timeout=20
    )

    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True, locale="zh-CN")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: console_error(msg, errors))
    page.goto(f"{reports_hub.url}/reports/?day={DAY}")
    page.fill("#reports-login-username", "admin")
    page.fill("#reports-login-password", ADMIN_PASSWORD)
    page.click("#reports-login-submit")

    # The day: charts drawn on their canvases, the heading, the numbers.
    for chart in ("chart-time", "chart-wait", "chart-counters", "chart-clerks"):
        page.wait_for_selector(f"#{chart}[data-rendered='true']", timeout=TIMEOUT)
        assert page.evaluate(INKED, chart) > 500, chart
    page.wait_for_selector("section[data-section='hour'] tbody tr", timeout=TIMEOUT)
    assert "测试营业厅 · 2026-03-10 日报表" in page.inner_text("#report-heading")
    check_numbers(page, daily)
    assert page.inner_text("#totals [data-figure='share'] dd") == "71.4%"
    shot = tmp_path / "reports-daily.png"
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # not a blank page: text, bars, lines

    # The month, a clerk's scorecard, the other language.
    page.click("#kind-monthly")
    page.wait_for_selector("section[data-section='day'] tbody tr", timeout=TIMEOUT)
    check_numbers(page, monthly.json())
    page.click(".scorecard-open[data-clerk='alice']")
    page.wait_for_selector("#scorecard:not([hidden])", timeout=TIMEOUT)
    assert page.inner_text("#scorecard [data-figure='served'] dd") == "4"
    assert page.inner_text("#scorecard [data-figure='rank_served'] dd") == "1 / 4"
    page.click("#lang-switch")
    page.wait_for_function(
        "() => document.querySelector('#report-heading').textContent.includes('monthly report 2026-03')"
    )
    assert "By clerk" in page.inner_text("section[data-section='clerk'] h2")
    assert page.inner_text("#scorecard [data-figure='rank_served'] dd") == "1 of 4"

    # The same report as a file: the CSV downloads with its BOM.
    with page.expect_download(timeout=TIMEOUT) as waiting:
        page.click(".download[data-format='csv']")
    download = waiting.value
    assert download.suggested_filename == "qcall-monthly-2026-03.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(str(saved))
    assert saved.read_bytes().startswith(b"\xef\xbb\xbf")
    assert errors == []
