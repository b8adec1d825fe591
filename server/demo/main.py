"""``python -m server demo``: the utility-hall sample, ready to click through.

Opening hours are switched off (a newcomer tries it in the evening), the
database is a local SQLite file in the var dir, and demo logins and device
tokens are made so the printed links work at once. Never use these passwords
in a real hall. Everything the demo writes is under ``QCALL_VAR_DIR``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta

from flask import Flask

from ..app import create_app
from ..bootstrap import bootstrap
from ..config import SiteConfig, load_config
from ..core.calendar import utc_now
from ..core.notices import NoticeDraft
from ..hub import Hub
from ..paths import repo_path, var_dir
from ..serve import serve
from ..startup import check_var_dir, hold_database, store_errors
from .blueprint import install
from .twins import DemoHardware, start_virtual_buses

SAMPLE = "config/samples/utility_hall.toml"
ADMIN = ("admin", "demo-admin")
#: A supervisor (值班长): the admin page's staff section, read only.
SUPERVISOR = ("supervisor", "demo-supervisor")
CLERK_PASSWORD = "demo-clerk"
#: Printer settings the demo keeps from the sample: how tickets look, not how they travel.
LAYOUT_KEYS = ("paper_mm", "chinese", "qr", "footer_zh", "footer_en")


def demo_database_url() -> str:
    return os.environ.get("QCALL_DATABASE_URL") or f"sqlite:///{var_dir() / 'demo.db'}"


def demo_config() -> SiteConfig:
    """The sample site, without opening hours, every printer virtual (whatever the sample says)."""
    config = load_config(repo_path(SAMPLE))
    config.hub.database_url = demo_database_url()
    config.hours.enforce = False
    for device in config.devices:
        if device.kind == "printer":
            keep = {k: v for k, v in device.settings.items() if k in LAYOUT_KEYS}
            device.settings = {**keep, "connector": "virtual"}
    return config


def run_demo(host: str, port: int) -> int:
    config = demo_config()
    # Before anything is written or any virtual device opened: a usable var dir, one hub per database.
    check_var_dir(var_dir())
    lock = hold_database(config.hub.database_url)
    hardware = DemoHardware(prints=var_dir() / "prints")
    try:
        start_virtual_buses(config, hardware, var_dir() / "demo-serial")
        with store_errors(config.hub.database_url):
            banner = provision(config, host, port)

        def build(site: SiteConfig) -> Flask:
            return install(create_app(site, printer_transport=hardware.printer_transport), hardware)

        return serve(config, host, port, banner=banner, build=build, lock=lock)
    finally:
        hardware.stop()


def provision(config: SiteConfig, host: str, port: int) -> str:
    """Demo logins and device tokens; the banner that lists the links."""
    hub = bootstrap(config)
    try:
        now = utc_now()
        if not hub.accounts.has_user(ADMIN[0]):
            hub.accounts.add_user(ADMIN[0], "admin", ADMIN[1], now)
        if not hub.accounts.has_user(SUPERVISOR[0]):
            hub.accounts.add_user(SUPERVISOR[0], "supervisor", SUPERVISOR[1], now)
        clerks = []
        for counter in config.counters:
            name = f"clerk{counter.number}"
            if not hub.accounts.has_user(name):
                hub.accounts.add_user(name, "staff", CLERK_PASSWORD, now)
            clerks.append((name, counter.number))
        post_demo_notices(hub)
        # Each screen's token carries the name of its configured device, so the admin page's board
        # sees the pages it knows (a token named otherwise shows as "not in the site file").
        _kiosk_name, kiosk = screen_token(hub, config, "kiosk", None)
        _lobby_name, lobby = screen_token(hub, config, "lobby_screen", None)
        screen_name, screen = screen_token(hub, config, "counter_screen", clerks[0][1])
    finally:
        hub.close()
    base = f"http://{host}:{port}"
    screen_counter = next((d.counter for d in config.devices if d.name == screen_name), clerks[0][1])
    lines = [
        f"qcall demo: {config.site.name_zh} / {config.site.name_en}",
        f"  kiosk          {base}/kiosk/?token={kiosk}",
        f"  lobby screen   {base}/display/lobby?token={lobby}",
        f"  counter screen {base}/display/counter?token={screen}&counter={screen_counter}",
        "  (a kiosk or screen opened without a token shows a pairing code: confirm it as admin)",
        f"  counter        {base}/counter/?counter={clerks[0][1]}",
        f"  logins         {', '.join(f'{n} (counter {c})' for n, c in clerks)}: password {CLERK_PASSWORD}",
        f"                 {ADMIN[0]}: password {ADMIN[1]} (any counter a clerk is logged in at)",
        f"                 {SUPERVISOR[0]}: password {SUPERVISOR[1]} (staff on post, rota: admin page)",
        "  (a counter is open, and its keypad calls, while its clerk is logged in at the console)",
        f"  devices        {base}/counter/admin.html (log in as admin)",
        f"  printed        {base}/demo/prints (the virtual printer's tickets)",
        f"  LED displays   {base}/demo/displays (what each counter's display shows; keypad keys)",
        f"  API            {base}/api/v1/openapi.json",
        "  (demo passwords: never use them in a real hall)",
    ]
    return "\n".join(lines)


#: The device-token role of each kind of page, and the name used when the site configures none.
SCREEN_ROLES = {"kiosk": ("kiosk", "demo-kiosk"), "lobby_screen": ("display", "demo-lobby")}


def screen_token(hub: Hub, config: SiteConfig, kind: str, counter: int | None) -> tuple[str, str]:
    """A token named after the configured device of ``kind`` (at ``counter``, if given): (name, token)."""
    role, fallback = SCREEN_ROLES.get(kind, ("display", f"demo-{kind.replace('_', '-')}"))
    devices = [d for d in config.devices if d.kind == kind]
    device = next((d for d in devices if counter is None or d.counter == counter), None)
    device = device or (devices[0] if devices else None)
    name = device.name if device else fallback
    # A demo started again replaces its own tokens of last time: a name has one live token.
    return name, hub.accounts.create_device_token(role, name, utc_now(), replace=True)


#: What the demo's lobby shows besides the queue: the tariff every power hall posts, a planned power cut.
DEMO_NOTICES = (
    NoticeDraft(
        "tariff",
        title_zh="居民阶梯电价",
        title_en="Residential tiered electricity tariff",
        tariff={
            "columns": [
                {"zh": "档位", "en": "Tier"},
                {"zh": "年用电量（千瓦时）", "en": "Yearly use (kWh)"},
                {"zh": "电价（元/千瓦时）", "en": "Price (CNY/kWh)"},
            ],
            "rows": [
                ["第一档", "0–2760", "0.5283"],
                ["第二档", "2761–4800", "0.5783"],
                ["第三档", "4800 以上", "0.8283"],
            ],
        },
    ),
    NoticeDraft(
        "outage",
        title_zh="计划停电通知",
        title_en="Planned power cut",
        body_zh="因线路检修，届时将停电，请提前做好准备。",
        body_en="Line maintenance: the power will be off; please prepare in advance.",
        area_zh="城东区建设路 1–99 号",
        area_en="Jianshe Road 1–99, East District",
    ),
)


def post_demo_notices(hub: Hub) -> None:
    """Post the demo's notices when none shows (a fresh demo, or one whose notices ended)."""
    _, showing, _ = hub.notices.showing()
    if showing:
        return
    now = hub.clock()
    zone = hub.core.hall.calendar.zone
    cut = (now + timedelta(days=2)).astimezone(zone).replace(hour=8, minute=0, second=0, microsecond=0)
    for draft in DEMO_NOTICES:
        if draft.kind == "outage":
            back = cut + timedelta(hours=9)
            draft = replace(draft, outage_from=cut.isoformat(), outage_to=back.isoformat())
        hub.notices.create(draft, "demo")
