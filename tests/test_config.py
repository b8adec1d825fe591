"""The site config: the shipped files load, and every mistake gives one clear line.

A bad file must raise :class:`ConfigError` whose message is a single line that
starts with the file's path and names the key (``services[1].prefix``), because
that line is all the person installing the hall will read.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server.config import (
    BreakReasonSection,
    CasesSection,
    ConfigError,
    CounterSection,
    DeviceSection,
    EstimateSection,
    HoursSection,
    HubSection,
    NoticesSection,
    SatisfactionSection,
    ServiceSection,
    SiteSection,
    StaffSection,
    load_config,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
SAMPLES = CONFIG / "samples"

MON_FRI = [0, 1, 2, 3, 4]
ALL_WEEK = [0, 1, 2, 3, 4, 5, 6]

#: What each shipped file must describe: services {code: prefix}, counters
#: {number: services in order of preference}, and the weekdays it is open.
EXPECTED = {
    "utility_hall.toml": {
        "services": {"NEW": "A", "PAY": "B", "INFO": "C", "FAULT": "D", "COMPLAINT": "E"},
        "counters": {
            1: ("NEW",),
            2: ("NEW", "INFO"),
            3: ("PAY",),
            4: ("PAY", "INFO"),
            5: ("FAULT", "INFO", "PAY"),
            6: ("COMPLAINT", "FAULT", "INFO"),
        },
        "open_days": ALL_WEEK,
    },
    "hospital_outpatient.toml": {
        "services": {
            "REG": "A",
            "MED": "B",
            "SURG": "C",
            "PAED": "D",
            "GYN": "E",
            "OPH": "F",
            "CASH": "G",
            "PHARM": "H",
        },
        "counters": {
            1: ("REG",),
            2: ("REG",),
            3: ("REG", "CASH"),
            201: ("MED",),
            202: ("MED",),
            203: ("SURG",),
            301: ("PAED",),
            302: ("PAED",),
            303: ("GYN",),
            304: ("OPH",),
            11: ("CASH",),
            12: ("CASH", "REG"),
            21: ("PHARM",),
            22: ("PHARM",),
        },
        "open_days": ALL_WEEK,
    },
    "bank_branch.toml": {
        "services": {"CASH": "A", "NONCASH": "B", "CORP": "C", "VIP": "V"},
        "counters": {
            1: ("CASH",),
            2: ("CASH", "NONCASH"),
            3: ("NONCASH", "CASH"),
            4: ("CORP",),
            5: ("CORP", "NONCASH"),
            8: ("VIP", "NONCASH", "CASH"),
        },
        "open_days": ALL_WEEK,
    },
}


def shanghai(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock moment in the halls' time zone."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _no_database_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests read the database URL from the file unless they set the override."""
    monkeypatch.delenv("QCALL_DATABASE_URL", raising=False)


# -- the shipped files ----------------------------------------------------


def test_every_sample_is_covered() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_loads_into_a_hall(name: str) -> None:
    path = SAMPLES / name
    expected = EXPECTED[name]
    config = load_config(path)
    hall = config.hall()

    assert {code: s.prefix for code, s in hall.services.items()} == expected["services"]
    assert list(hall.services) == list(expected["services"])  # kiosk buttons keep the file's order
    assert {n: c.services for n, c in hall.counters.items()} == expected["counters"]
    assert hall.name_zh and hall.name_en
    assert hall.calendar.timezone == "Asia/Shanghai"
    assert hall.calendar.enforce_hours is True
    assert sorted(hall.calendar.hours) == expected["open_days"]
    assert config.hub.database_url == f"sqlite:///var/{path.stem}.db"
    assert config.site.notice_zh and config.site.notice_en
    # The standing notice says what the hall's rules do: a late visitor is put
    # back with the number kept (过号重排), so no notice tells them to take a
    # new ticket, and it names the place they go back to.
    position = hall.rules.requeue_position
    assert position is not None
    assert "重新取号" not in config.site.notice_zh.replace("无需重新取号", "")
    assert "new ticket" not in config.site.notice_en
    assert "过号" in config.site.notice_zh and f"第{position}位" in config.site.notice_zh
    assert f"after the next {position}" in config.site.notice_en

    # Numbers fit the printed width on the busiest day a limit allows.
    for service in hall.services.values():
        if service.daily_limit is not None:
            assert len(service.number_for(service.daily_limit)) == len(service.prefix) + service.width


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_says_what_it_is_and_how_to_run_it(name: str) -> None:
    text = (SAMPLES / name).read_text(encoding="utf-8")
    assert text.startswith("# Sample site: ")
    header = text.split("\n[", 1)[0]
    assert f"python -m server --config config/samples/{name} run" in header


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_devices(name: str) -> None:
    config = load_config(SAMPLES / name)
    kinds = {d.name: d.kind for d in config.devices}
    assert kinds["kiosk-1"] == "kiosk"
    assert kinds["lobby-1"] == "lobby_screen"
    counters = {c.number for c in config.counters}
    for device in config.devices:
        if device.kind in ("counter_screen", "led_display", "keypad", "evaluation_pad"):
            assert device.counter in counters
        else:
            assert device.counter is None


@pytest.mark.parametrize("name", ["utility_hall.toml", "bank_branch.toml"])
def test_every_counter_has_its_screen(name: str) -> None:
    config = load_config(SAMPLES / name)
    screens = [d.counter for d in config.devices if d.kind == "counter_screen"]
    assert sorted(screens) == sorted(c.number for c in config.counters)


def test_utility_hall_opening_hours() -> None:
    """Open every day of the week (无周休日) and on public holidays; tickets stop half an hour before
    each closing; whoever still waits at closing is carried over to the next morning."""
    config = load_config(SAMPLES / "utility_hall.toml")
    calendar = config.hall().calendar
    spans = [(time(8, 30), time(12, 0)), (time(13, 30), time(17, 30))]
    for day in ALL_WEEK:
        assert list(calendar.hours[day]) == spans
    assert config.hours.at_closing == "carry_over"
    assert calendar.workdays.country == "CN" and calendar.open_on_holidays
    # 2026-11-23 is a Monday.
    assert not calendar.is_open(shanghai(2026, 11, 23, 8, 29))
    assert calendar.issuing(shanghai(2026, 11, 23, 8, 30))
    assert not calendar.is_open(shanghai(2026, 11, 23, 12, 30))  # lunch break
    assert calendar.is_open(shanghai(2026, 11, 23, 17, 29))
    assert not calendar.issuing(shanghai(2026, 11, 23, 17, 0))  # the last ticket was at 17:00
    assert calendar.issuing(shanghai(2026, 11, 23, 16, 59))
    assert not calendar.is_open(shanghai(2026, 11, 23, 17, 30))
    assert calendar.issuing(shanghai(2026, 11, 29, 10, 0))  # Sunday
    assert calendar.issuing(shanghai(2026, 10, 1, 10, 0))  # National Day
    # Spring Festival Eve 2027 (the site's own date): the morning only, and the kiosk names it.
    assert calendar.issuing(shanghai(2027, 2, 5, 10, 0))
    assert not calendar.is_open(shanghai(2027, 2, 5, 14, 0))
    assert calendar.verdict(shanghai(2027, 2, 5, 14, 0)).day_name == ("除夕", "Spring Festival Eve")


def test_hospital_limits_and_day() -> None:
    config = load_config(SAMPLES / "hospital_outpatient.toml")
    hall = config.hall()
    calendar = hall.calendar
    assert calendar.day_starts_at == time(0, 0)
    limits = {code: s.daily_limit for code, s in hall.services.items()}
    assert limits["MED"] == 80
    assert limits["REG"] is None and limits["PHARM"] is None
    assert hall.counters[201].name_zh == "内科1诊室"
    assert hall.counters[201].name_en == "Internal Medicine Room 1"
    for day in MON_FRI:
        assert list(calendar.hours[day]) == [(time(8, 0), time(12, 0)), (time(14, 0), time(17, 30))]
    for day in (5, 6):  # weekend clinics (周末门诊), mornings
        assert list(calendar.hours[day]) == [(time(8, 0), time(12, 0))]
    # 上午/下午号源: walk-ins and appointments of a half-day make the clinic's day.
    med = hall.half_day_caps["MED"]
    capacity = config.appointment_rules().capacity["MED"]
    assert (med.am or 0) + (med.pm or 0) + capacity["am"] + capacity["pm"] == limits["MED"]
    # Open on a Sunday morning; gynaecology and ophthalmology keep no weekend clinic.
    sunday = shanghai(2026, 11, 29, 9, 0)
    assert calendar.issuing(sunday) and calendar.issuing(sunday, "PAED")
    assert not calendar.is_open(sunday, "GYN") and not calendar.is_open(sunday, "OPH")
    assert calendar.next_opening(sunday, "GYN") == shanghai(2026, 11, 30, 8, 0)
    # Registration stops at 11:30; the cashier takes patients to the closing.
    assert not calendar.issuing(shanghai(2026, 11, 30, 11, 45), "REG")
    assert calendar.issuing(shanghai(2026, 11, 30, 11, 45), "CASH")
    assert calendar.business_day(shanghai(2026, 11, 29, 0, 30)).isoformat() == "2026-11-29"
    assert config.hours.at_closing == "close"


def test_bank_takes_appointments_for_large_cash_and_vip_only_and_keeps_no_names() -> None:
    config = load_config(SAMPLES / "bank_branch.toml")
    rules = config.appointment_rules()
    assert {code: dict(places) for code, places in rules.capacity.items()} == {
        "CASH": {"am": 4, "pm": 4},
        "VIP": {"am": 3, "pm": 4},
    }
    assert rules.slot_length("VIP") == timedelta(minutes=60)
    assert rules.slot_length("CASH") == timedelta(minutes=30)
    assert rules.call_by_name is False and rules.late == "walk_in" and rules.no_show_limit == 3


def test_bank_hours() -> None:
    config = load_config(SAMPLES / "bank_branch.toml")
    calendar = config.hall().calendar
    for day in MON_FRI:
        assert list(calendar.hours[day]) == [(time(9, 0), time(17, 0))]
    for day in (5, 6):
        assert list(calendar.hours[day]) == [(time(9, 0), time(16, 0))]
    assert calendar.issuing(shanghai(2026, 11, 27, 16, 30))  # Friday
    assert not calendar.issuing(shanghai(2026, 11, 27, 16, 50))  # the last ticket was at 16:45
    assert not calendar.is_open(shanghai(2026, 11, 28, 16, 30))  # Saturday
    # Closed on public holidays, their weekend days too; open again the day after.
    assert not calendar.is_open(shanghai(2026, 10, 1, 10, 0))
    assert not calendar.is_open(shanghai(2026, 10, 3, 10, 0))  # a Saturday of 国庆
    assert calendar.next_opening(shanghai(2026, 9, 30, 17, 0)) == shanghai(2026, 10, 8, 9, 0)
    assert config.hours.at_closing == "close"


def test_default_config_loads() -> None:
    config = load_config(CONFIG / "default.toml")
    hall = config.hall()
    assert len(hall.services) == 2
    assert len(hall.counters) == 2
    assert {n: c.services for n, c in hall.counters.items()} == {
        1: ("GENERAL", "INQUIRY"),
        2: ("INQUIRY", "GENERAL"),
    }
    assert config.hub.database_url == "sqlite:///var/qcall.db"


@pytest.mark.parametrize(
    ("section", "model"),
    [
        ("site", SiteSection),
        ("hub", HubSection),
        ("hours", HoursSection),
        ("services", ServiceSection),
        ("counters", CounterSection),
        ("devices", DeviceSection),
        ("cases", CasesSection),
        ("estimate", EstimateSection),
        ("staff", StaffSection),
        ("staff.break_reasons", BreakReasonSection),
        ("satisfaction", SatisfactionSection),
        ("notices", NoticesSection),
    ],
)
def test_default_config_documents_every_key(section: str, model: type) -> None:
    text = (CONFIG / "default.toml").read_text(encoding="utf-8")
    assert re.search(rf"^\[\[?{section}\]\]?$", text, re.M), f"no [{section}] section"
    for key in model.model_fields:
        # Present as a setting, or shown commented out with its example value.
        assert re.search(rf"^(# )?{key} = ", text, re.M), f"{section}.{key} is not documented"


# -- the database override ------------------------------------------------


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    path = SAMPLES / "utility_hall.toml"
    assert load_config(path).hub.database_url == "sqlite:///var/utility_hall.db"
    monkeypatch.setenv("QCALL_DATABASE_URL", "postgresql+psycopg://qcall@localhost/qcall")
    assert load_config(path).hub.database_url == "postgresql+psycopg://qcall@localhost/qcall"


def test_empty_database_override_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCALL_DATABASE_URL", "")
    assert load_config(SAMPLES / "bank_branch.toml").hub.database_url == "sqlite:///var/bank_branch.db"


def test_database_override_does_not_stick_to_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, BASE.replace(HUB, ""))
    monkeypatch.setenv("QCALL_DATABASE_URL", "sqlite:///elsewhere.db")
    assert load_config(path).hub.database_url == "sqlite:///elsewhere.db"
    monkeypatch.delenv("QCALL_DATABASE_URL")
    assert load_config(path).hub.database_url == "sqlite:///var/qcall.db"


# -- bad files --------------------------------------------------------------

HUB = """
[hub]
database_url = "sqlite:///var/test.db"
port = 5000
"""

#: A small valid site; each bad case changes one thing in it.
BASE = f"""
[site]
name_zh = "测试大厅"
name_en = "Test Hall"
timezone = "Asia/Shanghai"
day_starts_at = "00:00"
{HUB}
[hours]
mon = ["08:30-12:00", "13:30-17:30"]

[[services]]
code = "PAY"
name_zh = "电费缴纳"
name_en = "Bill Payment"
prefix = "A"

[[services]]
code = "INFO"
name_zh = "咨询查询"
name_en = "Enquiries"
prefix = "B"

[[counters]]
number = 1
name_zh = "1号窗口"
name_en = "Counter 1"
services = ["PAY"]

[[counters]]
number = 2
name_zh = "2号窗口"
name_en = "Counter 2"
services = ["INFO", "PAY"]

[[devices]]
name = "counter-2"
kind = "counter_screen"
counter = 2
"""


def write(tmp_path: Path, text: str, name: str = "site.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edit(old: str, new: str, count: int = 1) -> str:
    """BASE with ``old`` replaced; fails loudly if the case no longer applies."""
    assert BASE.count(old) >= count, f"{old!r} is not in BASE"
    return BASE.replace(old, new, count)


def problem(path: Path) -> str:
    """The message load_config gives for ``path``, checked to be one line about that file."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(f"{path}: "), message
    return message


def test_base_is_valid(tmp_path: Path) -> None:
    load_config(write(tmp_path, BASE)).hall()


#: Printers with the keys the drivers document: a logo (relative to the site file) and serial parity.
PRINTERS = """
[[devices]]
name = "printer-logo"
kind = "printer"
settings = { connector = "network", host = "192.168.1.50", paper_mm = 58, logo = "logo.png" }

[[devices]]
name = "printer-serial"
kind = "printer"
[devices.settings]
connector = "serial"
port = "/dev/ttyUSB0"
baudrate = 19200
parity = "E"
agent = "kiosk-pc-2"
"""


def logo_png(folder: Path) -> Path:
    """A small black-and-white logo file."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (120, 40), 255)
    ImageDraw.Draw(image).rectangle((10, 10, 110, 30), fill=0)
    path = folder / "logo.png"
    image.save(path)
    return path


def test_printer_logo_and_serial_parity_load(tmp_path: Path) -> None:
    from drivers.printing.layout import render_bytes
    from drivers.twins.escpos_decode import decode
    from tests.support import SAMPLE_TICKET

    logo = logo_png(tmp_path)
    config = load_config(write(tmp_path, BASE + PRINTERS))
    printer = config.printer_settings("printer-logo")
    assert printer.logo == str(logo)  # relative to the site file, not to the hub's working directory
    (paper,) = decode(render_bytes(SAMPLE_TICKET, printer.layout()))
    assert paper.images and paper.images[0].width == 384  # printed at the top, as wide as 58 mm paper
    serial = config.printer_settings("printer-serial")
    assert (serial.agent, serial.connection()["parity"], serial.baudrate) == ("kiosk-pc-2", "E", 19200)


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        ('logo = "logo.png"', 'logo = "missing.png"', ["devices[1].settings.logo", "missing.png"]),
        ('parity = "E"', 'parity = "X"', ["devices[2].settings.parity", "'X'"]),
        ("baudrate = 19200", "baud = 19200", ["devices[2].settings.baud: not a setting of a serial printer"]),
        ('agent = "kiosk-pc-2"', 'agent = "kiosk-pc-2"\nlogo = "logo.png"', ["devices[2].settings.logo"]),
    ],
)
def test_bad_printer_settings(tmp_path: Path, old: str, new: str, needles: list[str]) -> None:
    logo_png(tmp_path)
    message = problem(write(tmp_path, BASE + PRINTERS.replace(old, new)))
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


BAD = [
    pytest.param(
        edit("port = 5000", "port = "),
        ["not valid TOML", "line "],
        id="toml-syntax",
    ),
    pytest.param(
        edit('name = "counter-2"', 'name = "counter-2'),
        ["not valid TOML", "line "],
        id="toml-unclosed-string",
    ),
    pytest.param(
        edit("[[counters]]\nnumber = 1", "[[counters]]\nnumber = 1\nnumber = 3"),
        ["not valid TOML"],
        id="toml-key-twice",
    ),
    pytest.param(
        edit("port = 5000", "prot = 5000"),
        ["hub.prot", "unknown key"],
        id="unknown-key-typo",
    ),
    pytest.param(
        edit('prefix = "B"', 'prefix = "B"\nwidht = 4'),
        ["services[1].widht", "unknown key"],
        id="unknown-key-in-list",
    ),
    pytest.param(
        edit("[hours]", "[opening_hours]"),
        ["opening_hours", "unknown key"],
        id="unknown-section",
    ),
    pytest.param(
        edit('name_en = "Test Hall"\n', ""),
        ["site.name_en", "missing"],
        id="missing-site-name",
    ),
    pytest.param(
        edit('prefix = "B"\n', ""),
        ["services[1].prefix", "missing"],
        id="missing-service-prefix",
    ),
    pytest.param(
        edit('services = ["INFO", "PAY"]\n', ""),
        ["counters[1].services", "missing"],
        id="missing-counter-services",
    ),
    pytest.param(
        BASE.split("[[services]]")[0],
        ["services", "missing"],
        id="missing-services-section",
    ),
    pytest.param(
        edit('[site]\nname_zh = "测试大厅"\nname_en = "Test Hall"\n', ""),
        ["site", "missing"],
        id="missing-site-section",
    ),
    pytest.param(
        edit("port = 5000", 'port = "abc"'),
        ["hub.port", "integer", "'abc'"],
        id="wrong-type-port",
    ),
    pytest.param(
        edit("port = 5000", "port = 70000"),
        ["hub.port", "65535", "70000"],
        id="port-out-of-range",
    ),
    pytest.param(
        edit('services = ["PAY"]', 'services = "PAY"'),
        ["counters[0].services", "list"],
        id="wrong-type-counter-services",
    ),
    pytest.param(
        edit("number = 2", 'number = "二"'),
        ["counters[1].number", "integer"],
        id="wrong-type-counter-number",
    ),
    pytest.param(
        edit('mon = ["08:30-12:00", "13:30-17:30"]', 'mon = "08:30-17:30"'),
        ["hours.mon", "list"],
        id="wrong-type-hours",
    ),
    pytest.param(
        edit('code = "INFO"', 'code = "PAY"'),
        ["services[1].code", "'PAY'", "twice"],
        id="duplicate-service-code",
    ),
    pytest.param(
        edit('prefix = "B"', 'prefix = "A"'),
        ["services[1].prefix", "'A'", "twice"],
        id="duplicate-prefix",
    ),
    pytest.param(
        edit("number = 2", "number = 1"),
        ["counters[1].number", "twice"],
        id="duplicate-counter-number",
    ),
    pytest.param(
        edit('services = ["INFO", "PAY"]', 'services = ["INFO", "FAULT"]'),
        ["counters[1].services", "'FAULT'", "'INFO'", "'PAY'"],
        id="counter-unknown-service",
    ),
    pytest.param(
        edit('services = ["INFO", "PAY"]', "services = []"),
        ["counters[1].services"],
        id="counter-without-services",
    ),
    pytest.param(
        edit("counter = 2", "counter = 9"),
        ["devices[0].counter", "9"],
        id="device-unknown-counter",
    ),
    pytest.param(
        edit('kind = "counter_screen"', 'kind = "screen"'),
        ["devices[0].kind", "'screen'"],
        id="device-unknown-kind",
    ),
    pytest.param(
        edit('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"'),
        ["site.timezone", "'Asia/Beijing'", "IANA"],
        id="bad-time-zone",
    ),
    pytest.param(
        edit('timezone = "Asia/Shanghai"', 'timezone = "Asia"'),
        ["site.timezone", "'Asia'"],
        id="time-zone-is-a-directory",
    ),
    pytest.param(
        edit('timezone = "Asia/Shanghai"', 'timezone = "../../etc/passwd"'),
        ["site.timezone"],
        id="time-zone-path",
    ),
    pytest.param(
        edit('day_starts_at = "00:00"', 'day_starts_at = "3:00"'),
        ["site.day_starts_at", "HH:MM", "'3:00'"],
        id="bad-day-start",
    ),
    pytest.param(
        edit('"13:30-17:30"', '"17:00-08:00"'),
        ["hours.mon", "'17:00-08:00'"],
        id="hours-end-before-start",
    ),
    pytest.param(
        edit('"13:30-17:30"', '"13:30-"'),
        ["hours.mon"],
        id="hours-malformed",
    ),
    pytest.param(
        edit('"13:30-17:30"', '"13:30-25:00"'),
        ["hours.mon", "'13:30-25:00'"],
        id="hours-past-midnight",
    ),
    pytest.param(
        edit('"13:30-17:30"', '"13:30-24:30"'),
        ["hours.mon", "'13:30-24:30'"],
        id="hours-end-24-30",
    ),
    pytest.param(
        edit('prefix = "B"', 'prefix = "aa"'),
        ["services[1].prefix", "'aa'"],
        id="bad-prefix-lowercase",
    ),
    pytest.param(
        edit('prefix = "B"', 'prefix = "ABC"'),
        ["services[1].prefix", "'ABC'"],
        id="bad-prefix-too-long",
    ),
    pytest.param(
        edit('code = "INFO"', 'code = "咨询"'),
        ["services[1].code", "'咨询'"],
        id="bad-service-code",
    ),
    pytest.param(
        edit('prefix = "B"', 'prefix = "B"\nwidth = 5'),
        ["services[1].width", "4"],
        id="width-too-large",
    ),
    pytest.param(
        edit('prefix = "B"', 'prefix = "B"\ndaily_limit = 1000'),
        ["services[1].daily_limit", "1000", "width"],
        id="daily-limit-too-large-for-width",
    ),
    pytest.param(
        edit('prefix = "B"', 'prefix = "B"\nwidth = 2\ndaily_limit = 100'),
        ["services[1]", "100", "width 2"],
        id="daily-limit-names-service-and-width",
    ),
    pytest.param(
        edit('prefix = "B"', 'prefix = "B"\ndaily_limit = 0'),
        ["services[1].daily_limit", "0"],
        id="daily-limit-zero",
    ),
    pytest.param(
        edit('name_en = "Test Hall"', 'name_en = ""'),
        ["site.name_en"],
        id="empty-name",
    ),
    pytest.param(
        edit('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\nlanguages = ["zh", "fr"]'),
        ["site.languages[1]", "'fr'"],
        id="bad-language",
    ),
    pytest.param(
        edit('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\npublic_url = "192.168.1.10:5000"'),
        ["site.public_url", "'192.168.1.10:5000'"],
        id="public-url-without-scheme",
    ),
    pytest.param(
        edit('name_en = "Test Hall"', 'name_en = """Test\nHall"""\nname_fr = "x"'),
        ["site.name_fr"],
        id="multi-line-value-stays-one-line",
    ),
]


BAD.append(
    pytest.param(
        BASE + "\n[estimate]\nservice_minutes = { NOPE = 3 }\n",
        ["estimate.service_minutes", "'NOPE'"],
        id="estimate-unknown-service",
    )
)


@pytest.mark.parametrize(("text", "needles"), BAD)
def test_bad_file(tmp_path: Path, text: str, needles: list[str]) -> None:
    message = problem(write(tmp_path, text))
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_misspelt_required_key_names_the_typo(tmp_path: Path) -> None:
    message = problem(write(tmp_path, edit('name_zh = "测试大厅"', 'nmae_zh = "测试大厅"')))
    assert "site.nmae_zh" in message, message
    assert "unknown key" in message, message


def test_hours_may_end_at_midnight(tmp_path: Path) -> None:
    path = write(tmp_path, edit('"13:30-17:30"', '"13:30-24:00"'))
    hours = load_config(path).hall().calendar.hours
    assert list(hours[0])[-1] == (time(13, 30), time(23, 59, 59))


def test_missing_file(tmp_path: Path) -> None:
    message = problem(tmp_path / "nowhere.toml")
    assert "cannot read" in message


def test_directory_instead_of_file(tmp_path: Path) -> None:
    message = problem(tmp_path)
    assert "cannot read" in message


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file (root)")
        message = problem(path)
        assert "cannot read" in message
    finally:
        path.chmod(0o644)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes(BASE.encode("gbk"))
    message = problem(path)
    assert "UTF-8" in message


def test_path_given_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, edit('prefix = "B"', 'prefix = "aa"'))
    with pytest.raises(ConfigError, match=r"services\[1\]\.prefix") as info:
        load_config(str(path))
    assert str(info.value).startswith(f"{path}: ")


# -- [staff] ---------------------------------------------------------------


STAFF = """
[staff]
second_login = "move"
default_break_reason = "tea"

[[staff.break_reasons]]
code = "tea"
name_zh = "茶歇"
name_en = "Tea"

[[staff.break_reasons]]
code = "lunch"
name_zh = "午餐"
name_en = "Lunch"
"""


def test_staff_section_loads_and_has_defaults(tmp_path: Path) -> None:
    plain = load_config(write(tmp_path, BASE))
    assert plain.staff.second_login == "refuse" and plain.staff.default_break_reason == "other"
    hall = plain.hall()
    assert hall.posts_required and list(hall.break_reasons) == [
        "lunch",
        "meeting",
        "training",
        "personal",
        "other",
    ]
    own = load_config(write(tmp_path, BASE + STAFF, "own.toml"))
    assert own.staff.second_login == "move"
    assert [(r.code, r.name_zh) for r in own.hall().break_reasons.values()] == [
        ("tea", "茶歇"),
        ("lunch", "午餐"),
    ]
    assert own.hall().break_reason(None) == "tea"


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        ('second_login = "move"', 'second_login = "ask"', ["staff.second_login", "'refuse'", "'move'"]),
        (
            'default_break_reason = "tea"',
            'default_break_reason = "nap"',
            ["default_break_reason", "'nap'", "tea"],
        ),
        ('code = "lunch"', 'code = "tea"', ["break_reasons[1].code", "'tea' is used twice"]),
        ('code = "lunch"', 'code = "Lunch!"', ["staff.break_reasons[1].code"]),
        ('name_en = "Lunch"', 'name_en = ""', ["staff.break_reasons[1].name_en"]),
        ('second_login = "move"', 'second_logins = "move"', ["staff.second_logins: unknown key"]),
    ],
)
def test_bad_staff_section(tmp_path: Path, old: str, new: str, needles: list[str]) -> None:
    assert old in STAFF
    message = problem(write(tmp_path, BASE + STAFF.replace(old, new, 1)))
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_default_notice_keeps_a_late_visitors_number() -> None:
    """The default [calls] re-queue a late visitor: its notice says so."""
    config = load_config(CONFIG / "default.toml")
    assert config.hall().rules.requeue_position is not None
    assert "重新取号" not in config.site.notice_zh.replace("无需重新取号", "")
    assert "new ticket" not in config.site.notice_en
    assert "keep your number" in config.site.notice_en
