"""The lobby for every screen shape, in a real browser: nothing overlaps, nothing is cut, every call flashes.

Two halls, one hub process each, shared by the module's tests: a utility hall
(6 counters, 5 services) for the landscape and portrait layouts, and a
hospital wing (30 rooms with long bilingual names) for counter_list and
clinic_rooms. Both halls have a hotline, a public address (so the phone
page's QR shows) and a tariff of six rows posted on the admin API: each case
opens a lobby at one resolution and waits for the real content zone
(lobby_content.js: the tariff's first page, the hotline, the QR), then fills
the zone with a block of sample text and gives it back its notices (neither
may hide or shrink the calls), then six counters call at once. Then, with
every animation paused at chosen instants (the Web Animations API),
including mid-flash:

- every panel and every call inside the viewport, no two overlapping; no
  number or counter name wider or taller than its box;
- the content zone's card, hotline and QR inside the zone, none over
  another, the card not cut, the dock over none of them, a tariff's cells
  as big as the lobby's 1rem (read from 3 m), every text in the zone
  at least 4.5:1;
- the six calls all shown, each with its own flash;
- the counter name at least 60 % of its number's size;
- axe-core without serious or critical violations, and our own contrast
  computation of every text in the flashing calls at least 4.5:1.

Screenshots of every case (mid-flash) go to ``test-artifacts/layouts/``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import (
    ADMIN_PASSWORD,
    ELDERLY_TOML,
    ROOT,
    HubProcess,
    bearer,
    login,
    provision,
    running_hub,
)

pytestmark = pytest.mark.browser

TIMEOUT = 15_000  # ms
SHOTS = ROOT / "test-artifacts" / "layouts"
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
CALLS = 6
YELLOW = "rgb(255, 212, 0)"  # the flash's second pair: dark ink on this

SIZES = [(1366, 768), (1920, 1080), (3840, 2160), (1080, 1920)]
#: The doctors-on-duty pages: the two shapes a wing's screen comes in (the layouts run at all four).
BIG_SIZES = [(1920, 1080), (1080, 1920)]

#: Instants (ms into the flash) at which every animation is paused and the page checked: the first
#: colour pair, the switch to the second, mid-second pair. The flash is stepped (two colour pairs,
#: never a fade), so these frames are every colour it shows; later periods repeat them.
FRAMES = [0, 500, 750]

#: A content zone as full as another part of the hub may make it: a long bilingual notice,
#: a tariffs table, a hotline and a QR-sized box.
CONTENT = """
<div style="display:flex;gap:1rem;align-items:flex-start;color:#fff">
  <div style="width:6rem;height:6rem;background:#fff;color:#000;flex:none">QR</div>
  <div>
    <p>停电通知：12月3日 09:00–17:00 城东片区计划检修停电，请提前做好准备。
       Planned power cut: 3 December 09:00–17:00 in the East District for maintenance; please prepare.</p>
    <table><tr><th>居民电价 Residential</th><td>0.488 元/kWh</td></tr>
      <tr><th>峰时 Peak 08:00–22:00</th><td>0.568 元/kWh</td></tr>
      <tr><th>谷时 Off-peak 22:00–08:00</th><td>0.288 元/kWh</td></tr></table>
    <p>服务热线 Hotline 95598 · 扫码取号 Scan to take a ticket</p>
  </div>
</div>
"""

#: The content zone's real content, posted on the admin API: a tariff of six rows (two pages of the
#: card: four rows, then two), beside the hall's hotline and the phone page's QR.
TARIFF: dict[str, Any] = {
    "kind": "tariff",
    "title_zh": "居民阶梯电价及分时电价",
    "title_en": "Residential tiered and time-of-use tariff",
    "tariff": {
        "columns": [
            {"zh": "档位", "en": "Tier"},
            {"zh": "年用电量（千瓦时）", "en": "Yearly use (kWh)"},
            {"zh": "电价（元/千瓦时）", "en": "Price (CNY/kWh)"},
        ],
        "rows": [
            ["第一档", "0–2760", "0.5283"],
            ["第二档", "2761–4800", "0.5783"],
            ["第三档", "4800 以上", "0.8283"],
            ["峰时 08–22", "—", "0.5683"],
            ["谷时 22–08", "—", "0.2883"],
            ["合表用户", "—", "0.5483"],
        ],
    },
}
HOTLINE = "95598"
#: The hall's address as phones reach it: the phone page's QR is drawn only for one a phone can open.
PUBLIC = "http://hall.qcall.test:5000"

HEADER = """
[site]
name_zh = "{name_zh}"
name_en = "{name_en}"
timezone = "Asia/Shanghai"
hotline = "{hotline}"
public_url = "{public}"

[notices]
rotate_seconds = 120

[hub]
database_url = "{url}"
ticket_burst = 1000000
tickets_per_minute = 60000000
"""

SMALL_SERVICES = [
    ("PAY", "电费缴纳", "Bill payment", "A"),
    ("ASK", "咨询查询", "Enquiries", "B"),
    ("NEW", "新装增容", "New connections and capacity", "C"),
    ("CHG", "变更过户", "Changes of name and address", "D"),
    ("BIZ", "企业客户业务", "Business customers", "E"),
]
SMALL_COUNTERS = [
    (1, "1号窗口", "Counter 1"),
    (2, "2号窗口", "Counter 2"),
    (3, "3号窗口", "Counter 3"),
    (4, "4号窗口", "Counter 4"),
    (5, "5号窗口", "Counter 5"),
    (6, "综合业务受理窗口", "General Business Window 6"),
]
BIG_SERVICES = [
    ("MED", "内科", "Internal medicine", "N"),
    ("SUR", "外科", "Surgery", "W"),
    ("PED", "儿科", "Paediatrics", "E"),
    ("ENT", "耳鼻喉科", "Ear, nose and throat", "H"),
    ("DER", "皮肤科", "Dermatology", "P"),
    ("OPH", "眼科", "Ophthalmology", "Y"),
]
BIG_COUNTERS = [
    (
        n,
        f"{BIG_SERVICES[(n - 1) % 6][1]}{(n - 1) // 6 + 1}诊室",
        f"{BIG_SERVICES[(n - 1) % 6][2]} room {(n - 1) // 6 + 1}",
    )
    for n in range(1, 31)
]


def site_toml(url: str, name: tuple[str, str], services: list[Any], counters: list[Any], screens: str) -> str:
    text = HEADER.format(name_zh=name[0], name_en=name[1], url=url, hotline=HOTLINE, public=PUBLIC)
    for code, zh, en, prefix in services:
        text += f'\n[[services]]\ncode = "{code}"\nname_zh = "{zh}"\nname_en = "{en}"\nprefix = "{prefix}"\n'
    codes = [s[0] for s in services]
    for number, zh, en in counters:
        # Each counter serves every service, its own first (a room's clinic), so any six can call.
        own = codes[(number - 1) % len(codes)]
        serves = [own, *[c for c in codes if c != own]]
        text += (
            f'\n[[counters]]\nnumber = {number}\nname_zh = "{zh}"\nname_en = "{en}"\n'
            f"services = {serves!r}\n".replace("'", '"')
        )
    return text + screens


@dataclass
class Hall:
    hub: HubProcess
    kiosk: str
    displays: dict[str, str]
    clerks: dict[int, str]
    services: list[str]

    def six_calls(self) -> list[dict[str, Any]]:
        """Six tickets, then six counters calling at the same moment: the six called tickets."""
        for i in range(CALLS):
            answer = requests.post(
                f"{self.hub.url}/api/v1/tickets",
                json={"service": self.services[i % len(self.services)]},
                headers=bearer(self.kiosk),
                timeout=20,
            )
            assert answer.status_code == 201, answer.text

        def call(counter: int) -> dict[str, Any]:
            answer = requests.post(
                f"{self.hub.url}/api/v1/counters/{counter}/call-next",
                headers=bearer(self.clerks[counter]),
                timeout=20,
            )
            assert answer.status_code == 200, answer.text
            return answer.json()["ticket"]

        with ThreadPoolExecutor(CALLS) as pool:
            return list(pool.map(call, range(1, CALLS + 1)))


def start_hall(folder: Path, name: tuple[str, str], services: list[Any], counters: list[Any], screens: str):
    url = f"sqlite:///{folder / 'qcall.db'}"
    config = folder / "site.toml"
    config.write_text(site_toml(url, name, services, counters, screens), encoding="utf-8")
    creds = provision(config, CALLS)
    made = bootstrap(load_config(config))
    displays = {"test-display": creds.display}
    for device in made.config.devices:
        if device.kind == "lobby_screen":
            displays[device.name] = made.accounts.create_device_token("display", device.name, utc_now())
    made.store.engine.dispose()
    return config, creds, displays


def hall_fixture(
    factory: pytest.TempPathFactory, tag: str, name: tuple[str, str], services: list[Any], counters: list[Any]
) -> Iterator[Hall]:
    folder = factory.mktemp(tag)
    screens = "".join(
        f'\n[[devices]]\nname = "{screen}"\nkind = "lobby_screen"\nsettings = {{ layout = "{layout}" }}\n'
        for screen, layout in (("wing-list", "counter_list"), ("wing-rooms", "clinic_rooms"))
    )
    config, creds, displays = start_hall(folder, name, services, counters, screens)
    with running_hub(config, folder) as hub:
        clerks = {n: login(hub.url, creds.clerks[n], n) for n in range(1, CALLS + 1)}
        admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
        notices = f"{hub.url}/api/v1/admin/notices"
        answer = requests.post(notices, json=TARIFF, headers=bearer(admin), timeout=20)
        assert answer.status_code == 201, answer.text
        yield Hall(hub, creds.kiosk, displays, clerks, [s[0] for s in services])


@pytest.fixture(scope="module")
def small_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    yield from hall_fixture(
        tmp_path_factory,
        "layouts-small",
        ("城东供电营业厅", "East District Power Service Hall"),
        SMALL_SERVICES,
        SMALL_COUNTERS,
    )


@pytest.fixture(scope="module")
def big_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    yield from hall_fixture(
        tmp_path_factory,
        "layouts-big",
        ("市第一人民医院门诊二楼", "First People's Hospital, Outpatients 2F"),
        BIG_SERVICES,
        BIG_COUNTERS,
    )


# -- what the page is asked, in its own JS ------------------------------------------------------

#: Boxes and clipping: panels and calls that overlap or leave the viewport, numbers and names cut,
#: rows cut by their panel, and the size of each call's counter name next to its number.
GEOMETRY = """() => {
  const vw = innerWidth, vh = innerHeight;
  const box = el => {
    const r = el.getBoundingClientRect();
    return {x: r.left, y: r.top, r: r.right, b: r.bottom};
  };
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const label = el => el.id ? '#' + el.id : el.className
    + (el.dataset.callKey ? ' ' + el.dataset.callKey : '')
    + (el.dataset.counter ? ' counter ' + el.dataset.counter : '');
  const meet = (a, b) => Math.min(a.r, b.r) - Math.max(a.x, b.x) > 0.5
    && Math.min(a.b, b.b) - Math.max(a.y, b.y) > 0.5;
  const problems = [];
  const panels = [document.querySelector('.top'), ...document.querySelectorAll('.board > *'),
                  document.querySelector('#content-zone'), document.querySelector('.dock')].filter(shown);
  const inside = (el) => {
    const b = box(el);
    if (b.x < -0.5 || b.y < -0.5 || b.r > vw + 0.5 || b.b > vh + 0.5)
      problems.push('outside the viewport: ' + label(el));
  };
  panels.forEach(inside);
  panels.forEach((a, i) => panels.slice(i + 1).forEach(b => {
    if (meet(box(a), box(b))) problems.push('overlap: ' + label(a) + ' / ' + label(b));
  }));
  const calls = [...document.querySelectorAll('.call[data-call-key]')].filter(shown);
  calls.forEach(inside);
  calls.forEach((a, i) => calls.slice(i + 1).forEach(b => {
    if (meet(box(a), box(b))) problems.push('overlap: ' + label(a) + ' / ' + label(b));
  }));
  // Every row whole inside its panel (a panel hides what spills over).
  document.querySelectorAll('.board > * li, .board > .current-call > *').forEach(row => {
    if (!shown(row)) return;
    const panel = box(row.closest('.board > *')), b = box(row);
    if (b.x < panel.x - 0.5 || b.r > panel.r + 0.5 || b.y < panel.y - 0.5 || b.b > panel.b + 0.5)
      problems.push('cut by its panel: ' + label(row) + ' ' + row.textContent.trim().slice(0, 40));
    if (row.scrollHeight > row.clientHeight + 1)
      problems.push('row squeezed: ' + label(row) + ' ' + row.textContent.trim().slice(0, 40));
  });
  // The waiting panel: a service's names, its next number, its count and its wait never touch
  // ("Enquiries" ran into "下一位 Next"); a priority badge's words as big as 70 % of the number's.
  document.querySelectorAll('.services li').forEach(row => {
    if (!shown(row)) return;
    const parts = [...row.querySelectorAll('.svc .zh, .svc .en, .next, .count, .wait')]
      .filter(el => shown(el) && el.textContent.trim());
    parts.forEach((a, i) => parts.slice(i + 1).forEach(b => {
      if (a.contains(b) || b.contains(a)) return;
      if (meet(box(a), box(b))) problems.push('waiting row overlap: ' + a.textContent.trim() + ' / '
        + b.textContent.trim());
    }));
    row.querySelectorAll('.next .mark').forEach(mark => {
      const number = row.querySelector('.next .ticket-no');
      const size = el => parseFloat(getComputedStyle(el).fontSize);
      if (number && size(mark.querySelector('.en') || mark) < 0.7 * size(number))
        problems.push('badge too small: ' + mark.textContent.trim());
    });
  });
  document.querySelectorAll('[data-nocut]').forEach(el => {
    if (!shown(el)) return;
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1 || !el.clientWidth)
      problems.push('text cut: ' + el.textContent.trim() + ' ' + el.scrollWidth + 'x' + el.scrollHeight
        + ' in ' + el.clientWidth + 'x' + el.clientHeight);
    if (getComputedStyle(el).textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth)
      problems.push('ellipsized: ' + el.textContent.trim());
  });
  // The content zone's parts: inside the zone, none over another, the card not cut, the dock over none.
  const zone = document.querySelector('#content-zone'), dock = document.querySelector('.dock');
  const card = zone.querySelector('.cz-card:not([hidden])'), corner = zone.querySelector('.cz-corner');
  const parts = [card, corner, ...zone.querySelectorAll('.cz-hotline, .cz-qr, .cz-qr img')]
    .filter(el => el && shown(el));
  parts.forEach(el => {
    inside(el);
    const b = box(el), z = box(zone);
    if (b.x < z.x - 0.5 || b.y < z.y - 0.5 || b.r > z.r + 0.5 || b.b > z.b + 0.5)
      problems.push('outside the content zone: ' + label(el));
    if (shown(dock) && meet(box(dock), b)) problems.push('the dock covers ' + label(el));
  });
  if (card && corner && meet(box(card), box(corner))) problems.push('overlap: the card / the corner');
  if (card && (card.scrollHeight > card.clientHeight + 1 || card.scrollWidth > card.clientWidth + 1))
    problems.push('card cut: ' + card.scrollWidth + 'x' + card.scrollHeight
      + ' in ' + card.clientWidth + 'x' + card.clientHeight);
  const size = el => parseFloat(getComputedStyle(el).fontSize);
  const rem = size(document.documentElement);
  const img = zone.querySelector('.cz-qr img'), hotline = zone.querySelector('[data-testid=hotline]');
  const cells = card ? [...card.querySelectorAll('.cz-tariff td')] : [];
  const content = {kind: card && card.dataset.kind, page: card && card.dataset.page,
                   qr: !!(img && shown(img) && img.naturalWidth > 0),
                   hotline: hotline && shown(hotline) ? hotline.textContent.trim() : null,
                   cells: cells.length, cell: cells.length ? Math.min(...cells.map(size)) / rem : null};
  const ratios = calls.map(call => {
    const number = size(call.querySelector('.call-no'));
    return Math.min(...[...call.querySelectorAll('.call-counter')].map(n => size(n) / number));
  });
  return {problems, calls: calls.map(c => c.dataset.callKey), ratios, content,
          numbers: calls.map(c => c.querySelector('.call-no').textContent.trim()),
          current: box(document.querySelector('#current-call')),
          currentScale: document.querySelector('#current-call').dataset.scale,
          recent: box(document.querySelector('.recent-panel')),
          recentScale: document.querySelector('.recent-panel').dataset.scale};
}"""

#: The flash animations of each shown call (a call with none is not flashing).
FLASHING = """() => [...document.querySelectorAll('.call[data-call-key]')]
  .filter(call => call.getAnimations({subtree: true})
    .some(a => a.id === 'call-flash' && a.playState !== 'finished'))
  .map(call => call.dataset.callKey)"""

#: The calls flashing now, each with the milliseconds its flash has left, and the page's clock.
FLASH_LEFT = """() => {
  const left = {};
  document.querySelectorAll('.call[data-call-key]').forEach(call => {
    call.getAnimations({subtree: true})
      .filter(a => a.id === 'call-flash' && a.playState !== 'finished')
      .forEach(a => {
        const rest = a.effect.getComputedTiming().endTime - a.currentTime;
        left[call.dataset.callKey] = Math.max(left[call.dataset.callKey] || 0, rest);
      });
  });
  return {now: performance.now(), left};
}"""

#: Mark the calls with a flash (running or paused) for the frames' checks; how many there are.
MARK_FLASHING = """() => [...document.querySelectorAll('.call[data-call-key]')]
  .filter(call => call.getAnimations({subtree: true}).some(a => a.id === 'call-flash'))
  .map(call => call.setAttribute('data-test-flashing', '')).length"""

#: Pause every animation of the page at ``t`` ms into the flash (others at t too: the notice, the pulse).
PAUSE_AT = """t => {
  document.getAnimations().forEach(a => { a.pause(); a.currentTime = t; });
  return document.getAnimations().filter(a => a.id === 'call-flash').length;
}"""

#: Our own WCAG contrast of every text in the elements ``selector`` finds (the calls, the content
#: zone) against the colour behind it, as painted now.
CONTRAST = """selector => {
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lum = c => {
    const [r, g, b] = rgb(c).slice(0, 3).map(v => {
      v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const behind = el => {
    for (let up = el; up; up = up.parentElement) {
      const c = getComputedStyle(up).backgroundColor;
      if (rgb(c).length === 3 || rgb(c)[3] === 1) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const out = [];
  document.querySelectorAll(selector).forEach(call => {
    [call, ...call.querySelectorAll('*')].forEach(el => {
      const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
      if (!text || !el.getClientRects().length) return;
      const [a, b] = [lum(getComputedStyle(el).color), lum(behind(el))].sort((p, q) => q - p);
      out.push({text: text.slice(0, 20), ratio: (a + 0.05) / (b + 0.05), paper: behind(call)});
    });
  });
  return out;
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ') + ' ' + (n.failureSummary || ''))
      .join(' | '));
}"""


#: Show the sound button as lobby.js does while the browser refuses audio, and let the page refit.
SOUND_NEEDED = """() => {
  document.querySelector('#sound-enable').hidden = false;
  document.body.classList.add('sound-needed');
}"""


#: The content zone has fitted its card to the card's place as it is now (lobby_content.js writes the
#: size it fitted to): after a resize, a new card, the dock's button showing.
ZONE_FITTED = """() => {
  const zone = document.querySelector('#content-zone');
  const card = zone.querySelector('.cz-card:not([hidden])');
  return !!card && zone.dataset.fitted === card.clientWidth + 'x' + card.clientHeight;
}"""

#: The real content is in the zone: the tariff's first page, the hotline, the QR drawn.
REAL_CONTENT = """() => {
  const zone = document.querySelector('#content-zone');
  const img = zone.querySelector('.cz-qr img');
  return !!zone.querySelector('.cz-card[data-kind=tariff][data-page="0"]:not([hidden])')
    && !!zone.querySelector('[data-testid=hotline]') && !!img && img.complete && img.naturalWidth > 0;
}"""


def real_content(page: Any) -> None:
    """Wait until lobby_content.js shows the tariff's first page, the hotline and the QR, fitted."""
    page.wait_for_function(REAL_CONTENT, timeout=TIMEOUT)
    page.wait_for_function(ZONE_FITTED, timeout=TIMEOUT)


def check_content(name: str, content: dict[str, Any], smallest: float = 1.0) -> None:
    """The zone shows the tariff (its first page of four rows), the hotline and the QR, readable."""
    assert content["kind"] == "tariff" and content["page"] == "0", (name, content)
    assert content["cells"] == 4 * 3, (name, content)  # four rows of three cells: the first page
    assert content["hotline"] == HOTLINE and content["qr"], (name, content)
    # Readable from 3 m: a cell at least the lobby's own 1rem (the notices' test asks the same).
    assert content["cell"] >= smallest - 0.01, (name, content)


def redrawn(page: Any, change: str) -> None:
    """Make a change (JS), then a resize, and wait until the page has drawn and fitted itself again."""
    drawn = page.get_attribute("body", "data-drawn")
    page.evaluate(change)
    page.evaluate("() => window.dispatchEvent(new Event('resize'))")
    page.wait_for_function("n => document.body.dataset.drawn !== n", arg=drawn, timeout=TIMEOUT)


def open_lobby(browser: Any, hall: Hall, size: tuple[int, int], token: str, layout: str | None) -> Any:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256, "tests/vendor/axe-core changed"
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.add_init_script(path=str(AXE))
    query = f"&layout={layout}" if layout else ""
    page.goto(f"{hall.hub.url}/display/lobby?token={token}{query}")
    page.wait_for_selector("body[data-live='connected'][data-drawn]", timeout=TIMEOUT)
    return page


def check_case(
    browser: Any, hall: Hall, layout: str, size: tuple[int, int], token: str | None = None
) -> None:
    page = open_lobby(browser, hall, size, token or hall.displays["test-display"], layout)
    page.wait_for_selector(f"body[data-layout='{layout}']", timeout=TIMEOUT)
    name = f"{layout}-{size[0]}x{size[1]}"
    real_content(page)
    before = page.evaluate(GEOMETRY)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-content.png"))
    assert before["problems"] == [], (name, "content", before["problems"])
    # The portrait layout on a landscape screen (small, whole) gives the calls the height first: its
    # zone is lower and its card shrinks, not below the fit's floor (60 % of 1.2em cells).
    turned = layout == "portrait" and size[0] > size[1]
    smallest = 0.72 if turned else 1.0
    check_content(name, before["content"], smallest)

    # Whatever fills the content zone (a block of sample text, then its notices again): the calls
    # keep their place and size.
    redrawn(page, f"() => {{ document.querySelector('#content-zone').innerHTML = {json.dumps(CONTENT)}; }}")
    sample = page.evaluate(GEOMETRY)
    for key in ("current", "currentScale", "recent", "recentScale"):
        assert sample[key] == before[key], (key, before[key], sample[key])
    redrawn(page, "() => window.QCallLobbyContent.changed()")
    real_content(page)
    filled = page.evaluate(GEOMETRY)
    for key in ("current", "currentScale", "recent", "recentScale"):
        assert filled[key] == before[key], (key, before[key], filled[key])

    called = hall.six_calls()
    numbers = sorted(t["number"] for t in called)
    page.wait_for_function(
        "n => [...document.querySelectorAll('.call[data-call-key] .call-no')].map(e => e.textContent.trim())"
        ".sort().join() === n.join()",
        arg=numbers,
        timeout=TIMEOUT,
    )
    flashing = page.evaluate(FLASHING)
    assert len(flashing) == CALLS, f"every call flashes on its own: {flashing}"
    # A redraw mid-flash, in its second half (dark ink on yellow), as when the next call comes: the
    # flash goes on from where it was, with each part's own colours, not the ink, in the first half.
    page.wait_for_function(
        "() => document.getAnimations().some(a => a.id === 'call-flash' && a.currentTime % 1000 > 300"
        " && a.currentTime % 1000 < 420)",
        timeout=TIMEOUT,
    )
    # Those still flashing then: the redraw stops none of them. A flash runs out on its own six seconds
    # after its call, and on a starved machine the redraw may take a while, so each is judged by the
    # time it had left against the page's own clock: one with half a second to spare must still flash.
    before_redraw = page.evaluate(FLASH_LEFT)
    redrawn(page, "() => null")
    after_redraw = page.evaluate(FLASH_LEFT)
    took = after_redraw["now"] - before_redraw["now"]
    due = {key for key, left in before_redraw["left"].items() if left > took + 500}
    assert before_redraw["left"] and set(after_redraw["left"]) >= due, (took, before_redraw, after_redraw)
    assert page.evaluate(PAUSE_AT, 0) >= CALLS
    # Paused: the calls whose flash had not run out by now (all six, unless the machine is starved)
    # are the ones whose every frame is judged below; a flash that has run out can't be wound back.
    held = page.evaluate(MARK_FLASHING)
    assert held, "no flash left to judge"

    page.wait_for_function(ZONE_FITTED, timeout=TIMEOUT)
    for t in FRAMES:
        assert page.evaluate(PAUSE_AT, t) >= CALLS
        shape = page.evaluate(GEOMETRY)
        assert shape["problems"] == [], (name, t, shape["problems"])
        assert sorted(shape["numbers"]) == numbers, (name, shape["numbers"])
        assert min(shape["ratios"]) >= 0.6, (name, shape["ratios"])
        contrast = page.evaluate(CONTRAST, ".call[data-call-key]")
        low = [c for c in contrast if c["ratio"] < 4.5]
        assert not low, (name, t, low)
        check_content(name, shape["content"], smallest)
        zone_low = [c for c in page.evaluate(CONTRAST, "#content-zone") if c["ratio"] < 4.5]
        assert not zone_low, (name, t, zone_low)
        # The flash really swaps: dark ink on yellow in the second half of each second.
        papers = {c["paper"] for c in page.evaluate(CONTRAST, ".call[data-test-flashing]")}
        assert papers == ({"rgb(255, 212, 0)"} if (t % 1000) >= 500 else papers - {"rgb(255, 212, 0)"}), (
            t,
            papers,
        )
        violations = page.evaluate(AXE_RUN)
        assert violations == [], (name, t, violations)
        if t == 750:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{name}-mid-flash.png"))
    page.evaluate(PAUSE_AT, 250)
    page.screenshot(path=str(SHOTS / f"{name}.png"))

    # The sound button, as when the browser blocks audio: in the dock, over nothing, the calls unmoved.
    redrawn(page, SOUND_NEEDED)
    page.wait_for_function(ZONE_FITTED, timeout=TIMEOUT)  # the zone is narrower (or lower) beside the dock
    page.evaluate(PAUSE_AT, 750)  # axe reads one colour at a time: a running flash would mix two frames
    shape = page.evaluate(GEOMETRY)
    assert shape["problems"] == [], (name, "sound", shape["problems"])
    # Beside the button the card may shrink its text (to 70 %: 1.2em cells at 0.84rem), never be cut.
    check_content(name, shape["content"], smallest=0.72 if turned else 0.84)
    assert (shape["current"], shape["recent"]) == (filled["current"], filled["recent"])
    button = page.locator("#sound-enable").bounding_box()
    dock = page.locator(".dock").bounding_box()
    assert button["height"] >= 60 and button["width"] >= 250, button
    assert dock["y"] <= button["y"] and button["y"] + button["height"] <= dock["y"] + dock["height"]
    assert page.evaluate(AXE_RUN) == []
    page.screenshot(path=str(SHOTS / f"{name}-sound.png"))
    assert page.errors == []
    page.close()


# -- the cases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("layout", ["landscape", "portrait"])
def test_a_utility_hall_lobby_at_every_resolution(
    browser: Any, small_hall: Hall, layout: str, size: Any
) -> None:
    check_case(browser, small_hall, layout, size)
    assert "Traceback" not in small_hall.hub.log()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("layout", ["counter_list", "clinic_rooms"])
def test_a_hospital_wing_of_30_rooms(browser: Any, big_hall: Hall, layout: str, size: Any) -> None:
    """The screen's own layout from the config (no ?layout=): GET /api/v1/screen."""
    token = big_hall.displays["wing-list" if layout == "counter_list" else "wing-rooms"]
    check_case(browser, big_hall, layout, size, token)
    assert "Traceback" not in big_hall.hub.log()


#: Runs before the page's scripts: keeps the socket the page opens (the page's own code is untouched).
KEEP_SOCKETS = """
(() => {
  let real = null;
  window.testSockets = [];
  Object.defineProperty(window, "io", {
    configurable: true,
    get() {
      return real && ((...args) => { const s = real(...args); window.testSockets.push(s); return s; });
    },
    set(value) { real = value; },
  });
})();
"""


def test_a_screen_reads_its_layout_again_when_the_hub_says_settings_changed(
    browser: Any, small_hall: Hall
) -> None:
    """The hub's ``settings_changed`` (sent by the live settings part) makes the page ask /screen again."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(KEEP_SOCKETS)
    asked: list[str] = []

    def screen(route: Any) -> None:
        asked.append(route.request.headers.get("authorization", ""))
        if len(asked) == 1:
            route.continue_()
            return
        body = {"name": "test-display", "configured": True, "layout": "portrait", "recent": 3}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/api/v1/screen", screen)
    page.goto(f"{small_hall.hub.url}/display/lobby?token={small_hall.displays['test-display']}")
    page.wait_for_selector("body[data-live='connected'][data-screen='test-display']", timeout=TIMEOUT)
    assert page.get_attribute("body", "data-layout") == "landscape"
    assert asked == [f"Bearer {small_hall.displays['test-display']}"]

    small_hall.six_calls()
    page.wait_for_function("() => document.querySelectorAll('.call[data-call-key]').length === 6")
    page.evaluate("() => window.testSockets[0].listeners('settings_changed').forEach(fn => fn({}))")
    page.wait_for_selector("body[data-layout='portrait'][data-recent='3']", timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelectorAll('.call[data-call-key]').length === 3")
    assert len(asked) == 2
    assert errors == []
    page.close()


def test_the_address_overrides_the_configured_layout(browser: Any, big_hall: Hall) -> None:
    page = open_lobby(browser, big_hall, (1920, 1080), big_hall.displays["wing-rooms"], "counter_list")
    page.wait_for_selector("body[data-screen='wing-rooms']", timeout=TIMEOUT)
    assert page.get_attribute("body", "data-layout") == "counter_list"
    assert page.is_hidden(".rooms-panel") and page.is_visible(".counters-panel")
    assert page.errors == []
    page.close()


#: A wing's doctors on duty today, as GET /notices gives them (room, hours, the posted name).
DOCTORS = [
    {
        "counter": n,
        "counter_name_zh": zh,
        "counter_name_en": en,
        "start": "08:00",
        "end": "12:00",
        "now": n % 2 == 1,
        "name": f"医生{n}" if n != 3 else None,
    }
    for n, zh, en in BIG_COUNTERS[:10]
]


@pytest.mark.parametrize("size", BIG_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_wing_of_many_doctors_turns_them_in_pages_that_fit(browser: Any, big_hall: Hall, size: Any) -> None:
    """Ten doctors on duty: three pages of at most four rows, each whole in the zone beside the corner."""
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    answer = {
        "notices": [],
        "now": utc_now().isoformat(),
        "next_change_in": None,
        "rotate_seconds": 120,
        "hotline": HOTLINE,
        "phone_qr_url": None,
        "doctors": DOCTORS,
    }
    page.route(
        "**/api/v1/notices",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(answer)),
    )
    page.goto(f"{big_hall.hub.url}/display/lobby?token={big_hall.displays['wing-rooms']}")
    page.wait_for_selector("body[data-live='connected'][data-drawn]", timeout=TIMEOUT)
    zone = page.locator("#content-zone")
    zone.locator(".cz-card[data-kind='doctors'][data-page='0']").wait_for(state="visible", timeout=TIMEOUT)
    page.wait_for_function(ZONE_FITTED, timeout=TIMEOUT)
    assert zone.get_attribute("data-cards") == "3"
    card = zone.locator(".cz-card:not([hidden])")
    assert card.locator("tr").count() == 4 and card.locator(".cz-page").inner_text() == "1/3"
    assert "医生1" in card.inner_text() and "—" in card.inner_text()  # no posted name: a dash, never a login
    shape = page.evaluate(GEOMETRY)
    assert shape["problems"] == [], shape["problems"]
    assert shape["content"]["kind"] == "doctors" and shape["content"]["hotline"] == HOTLINE
    # Read from 3 m: the rows at full size (1.2em of the zone's 1rem), not shrunk.
    cell = card.locator("td").first.evaluate(
        "el => parseFloat(getComputedStyle(el).fontSize)"
        " / parseFloat(getComputedStyle(document.documentElement).fontSize)"
    )
    assert cell >= 1.0, cell
    low = [c for c in page.evaluate(CONTRAST, "#content-zone") if c["ratio"] < 4.5]
    assert not low, low
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"doctors-{size[0]}x{size[1]}.png"))
    assert errors == []
    page.close()


#: The utility-hall sample's services (config/samples/utility_hall.toml), as on the demo's lobby.
SAMPLE_SERVICES = [
    ("NEW", "业扩报装", "New Connection", "A"),
    ("PAY", "电费缴纳", "Bill Payment", "B"),
    ("INFO", "咨询查询", "Enquiries", "C"),
    ("FAULT", "故障报修", "Fault Reports", "D"),
    ("COMPLAINT", "投诉建议", "Complaints & Suggestions", "E"),
]
ELDERLY = ELDERLY_TOML


def test_the_waiting_panel_keeps_names_next_numbers_and_badges_apart(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The demo's hall: "Enquiries" once ran into "下一位 Next C001 优先 Priority" at 1920x1080."""
    folder = tmp_path_factory.mktemp("layouts-waiting")
    counters = [(n, f"{n}号窗口", f"Counter {n}") for n in range(1, 7)]
    config, creds, displays = start_hall(
        folder,
        ("国网示范供电营业厅", "State Grid Model Power Supply Business Hall"),
        SAMPLE_SERVICES,
        counters,
        ELDERLY,
    )
    with running_hub(config, folder) as hub:
        clerk = login(hub.url, creds.clerks[1], 1)  # one counter open, the others "暂无窗口"
        for code, *_ in SAMPLE_SERVICES[:4]:
            extra = {"category": "elderly"} if code == "INFO" else {}
            for _ in range(2):
                answer = requests.post(
                    f"{hub.url}/api/v1/tickets",
                    json={"service": code, **extra},
                    headers=bearer(creds.kiosk),
                    timeout=20,
                )
                assert answer.status_code == 201, answer.text
        assert clerk
        admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
        posted = requests.post(
            f"{hub.url}/api/v1/admin/notices", json=TARIFF, headers=bearer(admin), timeout=20
        )
        assert posted.status_code == 201, posted.text
        hall = Hall(hub, creds.kiosk, displays, {}, [s[0] for s in SAMPLE_SERVICES])
        for size in [(1920, 1080), (1366, 768), (1080, 1920)]:
            page = open_lobby(browser, hall, size, displays["test-display"], None)
            page.wait_for_selector("#services li[data-service='INFO'] .next .mark", timeout=TIMEOUT)
            real_content(page)
            shape = page.evaluate(GEOMETRY)
            name = f"waiting-{size[0]}x{size[1]}"
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{name}.png"))
            assert shape["problems"] == [], (name, shape["problems"])
            badge = page.locator("#services li[data-service='INFO'] .next .mark").bounding_box()
            assert badge and badge["height"] >= min(size) / 64, (
                name,
                badge,
            )  # about 18 px on a 1080p TV (was 8)
            page.close()
