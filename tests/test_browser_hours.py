"""Outside the opening hours, in a real browser against a real hub process.

A running hub's clock is the real one, so the site is built around *now*: its
time zone puts the hall's noon near the present hour, and the site's own
exception for today opens the hall at the next whole minute (at least
:data:`LEAD_SECONDS` away). The kiosk first shows the closed screen with that
opening in both languages, then opens by itself when the minute comes (no
reload); one service stays closed all day and says it opens tomorrow.

Before the hub starts, the same store is given two tickets on a fake clock:
one carried over from yesterday's closing to today, one closed at the
closing of the day before. Their phone pages say so in both languages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from server.bootstrap import bootstrap
from server.config import load_config
from tests.support import ARTIFACTS, bearer, provision, running_hub

pytestmark = pytest.mark.browser

#: The kiosk must have loaded and drawn the closed screen before the hall opens.
LEAD_SECONDS = 20

SITE = """
[site]
name_zh = "测试营业厅"
name_en = "Test Hall"
timezone = "{zone}"

[hub]
database_url = "{url}"
ticket_burst = 1000
tickets_per_minute = 60000

[hours]
enforce = true
at_closing = "carry_over"
mon = ["08:00-20:00"]
tue = ["08:00-20:00"]
wed = ["08:00-20:00"]
thu = ["08:00-20:00"]
fri = ["08:00-20:00"]
sat = ["08:00-20:00"]
sun = ["08:00-20:00"]

[[hours.exceptions]]
date = {today}
hours = ["{opens}-20:00"]
name_zh = "系统升级"
name_en = "System upgrade"

[[hours.exceptions]]
date = {today}
services = ["ASK"]
hours = []

[[services]]
code = "PAY"
name_zh = "电费缴纳"
name_en = "Bill payment"
prefix = "A"

[[services]]
code = "ASK"
name_zh = "咨询查询"
name_en = "Enquiries"
prefix = "B"

[[counters]]
number = 1
name_zh = "1号窗口"
name_en = "Counter 1"
services = ["PAY", "ASK"]
"""


def hall_zone(now: datetime) -> ZoneInfo:
    """A fixed-offset zone where it is about noon now: no midnight comes during the test."""
    offset = 12 - now.hour  # -11 … +12
    return ZoneInfo("Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}")


def write_site(path: Path, url: str, zone: ZoneInfo, opens: datetime) -> Path:
    text = SITE.format(zone=zone.key, url=url, today=opens.date().isoformat(), opens=f"{opens:%H:%M}")
    path.write_text(text, encoding="utf-8")
    return path


def make_carried_and_closed_tickets(config_path: Path, zone: ZoneInfo, today: date) -> tuple[str, str]:
    """On a fake clock: an ASK ticket closed two days ago, a PAY ticket carried over from yesterday."""
    now = [datetime.combine(today - timedelta(days=2), datetime.min.time(), zone).replace(hour=10)]
    hub = bootstrap(load_config(config_path), lambda: now[0])
    try:
        closed = hub.core.issue("ASK").ticket
        now[0] = now[0].replace(hour=20, minute=1)
        assert [t.id for t in hub.core.at_closing(False)] == [closed.id]
        now[0] = now[0].replace(hour=10, minute=0) + timedelta(days=1)
        carried = hub.core.issue("PAY").ticket
        now[0] = now[0].replace(hour=20, minute=1)
        assert [t.business_day for t in hub.core.at_closing(True)] == [today]
    finally:
        hub.close()
    return carried.id, closed.id


def test_the_kiosk_shows_the_next_opening_and_opens_when_it_comes(browser, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    real = datetime.now(UTC)
    zone = hall_zone(real)
    local = real.astimezone(zone)
    opens = (local + timedelta(seconds=LEAD_SECONDS + 60)).replace(second=0, microsecond=0)
    config_path = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", zone, opens)
    creds = provision(config_path, 1)
    carried_id, closed_id = make_carried_and_closed_tickets(config_path, zone, opens.date())
    errors: list[str] = []

    with running_hub(config_path, tmp_path) as hub:
        kiosk = browser.new_page(viewport={"width": 1080, "height": 1920}, timezone_id=zone.key)
        kiosk.on("pageerror", lambda exc: errors.append(f"kiosk: {exc}"))
        kiosk.goto(f"{hub.url}/kiosk/?token={creds.kiosk}")
        closed = kiosk.wait_for_selector("#closed-view:not([hidden])", timeout=15_000)
        assert datetime.now(UTC) < opens, "the kiosk loaded too slowly for this test's lead"
        hhmm = f"{opens:%H:%M}"
        assert kiosk.inner_text("#closed-next-zh") == f"今天 {hhmm} 开始取号"
        assert kiosk.inner_text("#closed-next-en") == f"Tickets from today {hhmm}"
        assert kiosk.inner_text("#closed-day") == "系统升级 · System upgrade"
        assert kiosk.is_hidden("#service-view")
        assert closed.get_attribute("data-opens-at") == opens.isoformat()
        kiosk.screenshot(path=str(ARTIFACTS / "kiosk-closed.png"))

        # The visitors' phones: one number kept from yesterday's closing, one ended two days ago.
        phone = browser.new_page(viewport={"width": 390, "height": 844}, timezone_id=zone.key)
        phone.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))
        phone.goto(f"{hub.url}/t/{carried_id}")
        phone.wait_for_selector("#closing-note[data-closing='carried_over']", timeout=15_000)
        day = f"{opens.year}年{opens.month}月{opens.day}日"
        assert day in phone.inner_text("#closing-zh") and hhmm in phone.inner_text("#closing-zh")
        assert phone.inner_text("#closing-zh").startswith("大厅已下班，您的号保留到")
        assert phone.inner_text("#closing-en").startswith("The hall has closed; your number is kept")
        phone.screenshot(path=str(ARTIFACTS / "status-carried-over.png"))
        phone.goto(f"{hub.url}/t/{closed_id}")
        phone.wait_for_selector("#closing-note[data-closing='closed']", timeout=15_000)
        assert phone.inner_text("#closing-zh") == "大厅已下班，您的号已关闭"
        assert phone.inner_text("#closing-en") == "The hall has closed; your ticket has ended"

        # The minute comes: the kiosk opens by itself (the hub said when to ask again).
        wait_ms = int((opens - datetime.now(UTC)).total_seconds() * 1000) + 15_000
        kiosk.wait_for_selector(".service-btn[data-service='PAY'][data-shut='false']", timeout=wait_ms)
        assert datetime.now(UTC) >= opens
        assert kiosk.is_hidden("#closed-view")
        ask = kiosk.wait_for_selector(".service-btn[data-service='ASK'][data-shut='true']")
        assert ask.is_disabled()
        assert (
            ask.inner_text().count("明天 08:00 开始取号") == 1
            and "Tickets from tomorrow 08:00" in ask.inner_text()
        )
        kiosk.screenshot(path=str(ARTIFACTS / "kiosk-opened.png"))
        kiosk.click(".service-btn[data-service='PAY']")
        number = kiosk.wait_for_selector("#ticket-number", state="visible", timeout=10_000).inner_text()
        assert number.strip() == "A002"  # A001 was carried over from yesterday

        refused = requests.post(
            f"{hub.url}/api/v1/tickets", json={"service": "ASK"}, headers=bearer(creds.kiosk), timeout=10
        )
        assert refused.status_code == 409 and refused.json()["code"] == "service_closed"
        assert refused.json()["error_en"] == "This service opens tomorrow 08:00"
        assert errors == []
        assert "Traceback" not in hub.log()
