"""``python -m server demo``: the utility-hall sample, ready to click through.

Opening hours are switched off (a newcomer tries it in the evening), the
database is a local SQLite file, and demo logins and device tokens are made so
the printed links work at once. Never use these passwords in a real hall.
"""

from __future__ import annotations

import os
from pathlib import Path

from .app import var_dir
from .cli import make_hub, repo_path, serve
from .config import load_config
from .core.calendar import utc_now
from .demo_twins import start_virtual_buses
from .startup import check_var_dir, hold_database, store_errors

SAMPLE = "config/samples/utility_hall.toml"
DEMO_DB = "sqlite:///var/demo.db"
ADMIN = ("admin", "demo-admin")
CLERK_PASSWORD = "demo-clerk"


def run_demo(host: str, port: int) -> int:
    config = load_config(repo_path(SAMPLE))
    config.hub.database_url = os.environ.get("QCALL_DATABASE_URL") or DEMO_DB
    config.hours.enforce = False
    for device in config.devices:
        if device.kind == "printer":  # the demo prints on virtual printers, whatever the sample says
            keep = {
                k: v
                for k, v in device.settings.items()
                if k in ("paper_mm", "chinese", "qr", "footer_zh", "footer_en")
            }
            device.settings = {**keep, "connector": "virtual"}
    # Before anything is written or any virtual device opened: a usable var dir, one hub per database.
    check_var_dir(var_dir())
    hold_database(config.hub.database_url)
    start_virtual_buses(config, Path(os.environ.get("QCALL_VAR_DIR", "var")) / "demo-serial")
    with store_errors(config.hub.database_url):
        hub = make_hub(config)
    now = utc_now()
    if not hub.accounts.has_user(ADMIN[0]):
        hub.accounts.add_user(ADMIN[0], "admin", ADMIN[1], now)
    clerks = []
    for counter in config.counters:
        name = f"clerk{counter.number}"
        if not hub.accounts.has_user(name):
            hub.accounts.add_user(name, "staff", CLERK_PASSWORD, now)
        clerks.append((name, counter.number))
    kiosk_name = next((d.name for d in config.devices if d.kind == "kiosk"), "demo-kiosk")
    kiosk = hub.accounts.create_device_token("kiosk", kiosk_name, now)
    display = hub.accounts.create_device_token("display", "demo-lobby", now)
    hub.store.engine.dispose()
    base = f"http://{host}:{port}"
    lines = [
        f"qcall demo: {config.site.name_zh} / {config.site.name_en}",
        f"  kiosk          {base}/kiosk/?token={kiosk}",
        f"  lobby screen   {base}/display/lobby?token={display}",
        f"  counter screen {base}/display/counter?token={display}&counter={clerks[0][1]}",
        f"  counter        {base}/counter/?counter={clerks[0][1]}",
        f"  logins         {', '.join(f'{n} (counter {c})' for n, c in clerks)}: password {CLERK_PASSWORD}",
        f"                 {ADMIN[0]}: password {ADMIN[1]} (any counter)",
        f"  devices        {base}/counter/admin.html (log in as admin)",
        f"  printed        {base}/demo/prints (the virtual printer's tickets)",
        f"  LED displays   {base}/demo/displays (what each counter's display shows; keypad keys)",
        f"  API            {base}/api/v1/openapi.json",
        "  (demo passwords: never use them in a real hall)",
    ]
    return serve(config, host, port, banner="\n".join(lines), demo=True)
