"""The hall's settings edited from the browser: stored sections laid over the site file, applied live.

The TOML file stays the installer's starting point. A section an admin saves
(``PUT /api/v1/admin/settings/<section>``) or imports (``settings import``) is
kept in the store and wins over the file's from then on; the hub's effective
config is the file with the stored sections laid over it, checked by
``SiteConfig`` itself, so every rule of the file holds for the browser too.
At start the hub says, in one line, which stored sections the file now
differs from, and which command takes the file's: never a silent overwrite
either way.

A save is applied at once: the hub's config and the core's ``Hall`` are
swapped, with every service that keeps a part of them (the pace model, the
appointments book, cases, complaints, statistics, the closing watch), and
every screen is sent ``settings_changed`` and a fresh snapshot.

Taking away a service or a counter that has tickets of today still open (or a
clerk on post) is refused: the queue is never left with tickets nobody can
call. To stop new tickets of a service while its queue drains, close it for
today (an ``hours.exceptions`` entry with ``hours = []`` and its code in
``services``), and remove it once the queue is empty.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Connection, select

from drivers.validation import location

from .config import ConfigError, SiteConfig, describe_problem
from .core.bilingual import Bilingual, Problem
from .devices.rooms import HALL
from .pydantic_zh import in_chinese
from .screens import LOBBY_SCREEN, over_the_files_devices, screen_changes_only
from .store.accounts import Actor
from .store.schema import counter_states
from .store.settings import InUse, SectionChange, SettingsStore, StoredSection, in_use, prefix_taken

if TYPE_CHECKING:
    from .hub import Hub

log = logging.getLogger(__name__)

#: The sections of the site file an admin may edit from the browser, in the page's order. One line
#: here (and a form on the admin page) makes another section editable. ``devices``: lobby screens only
#: (server/screens.py); the voice zones apply at the next call and move connected screens at once.
EDITABLE: tuple[str, ...] = ("services", "counters", "hours", "priority", "zones", "devices")

#: The Socket.IO event every screen and console gets after a save (then a fresh ``snapshot``).
SETTINGS_CHANGED = "settings_changed"

_WHERE = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): (.+)$", re.S)


class InvalidSettings(Exception):
    """A section the site's rules refuse; ``problems`` name each field and what was expected, in both
    languages. ``str()`` is the first in English (``services[2].code: …``), as the CLI and logs read it;
    ``message_zh`` / ``message_en`` say the refusal whole for the page."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(f"{first.field}: {first.en}" if first.field else first.en)
        self.problems = problems
        where = f"{first.field}：" if first.field else ""
        more_zh = f"（共 {len(problems)} 处）" if len(problems) > 1 else ""
        more_en = f" ({len(problems)} problems)" if len(problems) > 1 else ""
        self.message_zh = f"设置未保存：{where}{first.zh}{more_zh}"
        self.message_en = f"settings not saved: {self}{more_en}"


class SettingInUse(Exception):
    """A change would take away a service or counter that today's open tickets (or a clerk) still need.

    ``str()`` is the English (the CLI's line); ``message_zh`` / ``message_en`` each whole for the page.
    """

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field = field
        self.message_zh = zh
        self.message_en = en


class UnknownSection(Exception):
    """Not one of :data:`EDITABLE`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no settings section {name!r}; expected one of {list(EDITABLE)}")


def problems_of(exc: ValidationError) -> list[Problem]:
    """Each pydantic error as a :class:`Problem`: its field (``services[2].code``) and what was expected,
    in Chinese and in English.

    The site's cross-checks say where in their message (``counters[0].services: unknown …``, or
    :class:`Bilingual`'s ``where``); that part becomes the field.
    """
    found: list[Problem] = []
    for error in exc.errors():
        text = describe_problem(error)
        cause = (error.get("ctx") or {}).get("error")
        match = _WHERE.match(text)
        field, message = (match[1], match[2]) if match else ("", text)
        if isinstance(cause, Bilingual) and cause.where:  # where it says, within the model that said it
            outer = location(error["loc"])
            field, message = f"{outer}.{cause.where}" if outer else cause.where, cause.message_en
        if error["type"] == "string_too_short" and (error.get("ctx") or {}).get("min_length") == 1:
            message = "may not be empty; expected some text"  # a form's empty box, said plainly
        found.append(Problem(field, in_chinese(error, field, message), message))
    # A misspelt key also makes its right spelling "missing": the typo first, as the file's line does.
    found.sort(key=lambda p: 0 if p.en.startswith("unknown key") else 1)
    return found


def section_value(config: SiteConfig, name: str) -> Any:
    """A section as JSON with the file's keys (absent keys left out, as TOML has no null)."""
    return config.model_dump(mode="json", include={name}, exclude_none=True)[name]


def overlay(base: SiteConfig, sections: Mapping[str, Any]) -> SiteConfig:
    """``base`` with ``sections`` laid over it, checked whole by ``SiteConfig`` (raises ValidationError)."""
    data = base.model_dump(mode="python")
    data.update(sections)
    config = SiteConfig.model_validate(data)
    config.place_in(base.folder)
    return config


@dataclass(frozen=True)
class SectionView:
    """A section as the admin page reads it: its value, version (0: the file's) and who saved it."""

    section: str
    value: Any
    stored: StoredSection | None

    def public(self) -> dict[str, Any]:
        stored = self.stored
        return {
            "section": self.section,
            "value": self.value,
            "version": stored.version if stored else 0,
            "stored": stored is not None,
            "changed_at": stored.changed_at.isoformat() if stored else None,
            "changed_by": stored.changed_by if stored else None,
        }


class HallSettings:
    """The file's config, the stored sections, and the effective config made of both."""

    def __init__(self, file_config: SiteConfig, store: SettingsStore) -> None:
        self.file_config = file_config
        self.store = store
        #: Held from reading the hub's config to applying the saved one: two saves of different
        #: sections at once must not each apply a config without the other's change.
        self.lock = threading.Lock()
        #: The version of each section the hub runs with (0: the file's), set by :meth:`effective`
        #: and :func:`apply`; :meth:`refresh` compares the store's with it.
        self.applied: dict[str, int] = {}
        #: Told the new config after each apply (the live sockets move connected screens to their zone).
        self._on_applied: list[Callable[[SiteConfig], object]] = []

    def on_applied(self, listener: Callable[[SiteConfig], object]) -> None:
        """Be told the hub's new config once it is applied (before the screens hear ``settings_changed``)."""
        self._on_applied.append(listener)

    def tell_applied(self, config: SiteConfig) -> None:
        for listener in self._on_applied:
            try:
                listener(config)
            except Exception:  # one listener's failure must not keep the screens from hearing of the save
                log.exception("settings: a listener of the applied settings failed")

    def effective(self) -> SiteConfig:
        """The file with the stored sections over it; :class:`ConfigError` when they no longer fit it."""
        saved = {name: s for name, s in self.store.stored().items() if name in EDITABLE}
        self.applied = {name: s.version for name, s in saved.items()}
        stored = {name: s.value for name, s in saved.items()}
        if not stored:
            return self.file_config
        if isinstance(stored.get("devices"), list):
            stored["devices"] = over_the_files_devices(self.file_config, stored["devices"])
        try:
            return overlay(self.file_config, stored)
        except ValidationError as exc:
            problem = problems_of(exc)[0]
            names = " ".join(f"--section {name}" for name in sorted(stored))
            raise ConfigError(
                f"the settings saved from the admin page no longer fit the config file: "
                f"{problem.field}: {problem.en}; fix the file, or take the file's with "
                f"'python -m server settings import FILE {names}'"
            ) from None

    def refresh(self, hub: Hub) -> list[str]:
        """Apply sections saved by another process (``settings import`` beside a running hub).

        The hub looks when the audit log grows (``LiveSessions.watch``); what
        it saved itself is applied already. Returns the sections applied.
        """
        with self.lock:
            saved = [
                s
                for name, s in sorted(self.store.stored().items())
                if name in EDITABLE and self.applied.get(name, 0) != s.version
            ]
            if not saved:
                return []
            config = self.effective()
            apply(hub, config, saved)
            names = [s.section for s in saved]
            log.info("settings: applied %s saved by another process", ", ".join(names))
            return names

    def differences(self) -> list[str]:
        """The stored sections whose value differs from the file's (the file was edited since)."""
        return [
            name
            for name, stored in sorted(self.store.stored().items())
            if name in EDITABLE and stored.value != section_value(self.file_config, name)
        ]

    def warn_differences(self) -> None:
        """One line at start naming each stored section the file now differs from, and the way back."""
        names = self.differences()
        if names:
            sections = " ".join(f"--section {name}" for name in names)
            log.warning(
                "settings: the config file differs from the settings saved from the admin page in %s; "
                "the saved ones are used. To take the file's: python -m server settings import FILE %s",
                ", ".join(names),
                sections,
            )

    def views(self, current: SiteConfig) -> dict[str, SectionView]:
        stored = self.store.stored()
        return {name: SectionView(name, section_value(current, name), stored.get(name)) for name in EDITABLE}

    def view(self, name: str, current: SiteConfig) -> SectionView:
        check_name(name)
        return SectionView(name, section_value(current, name), self.store.stored().get(name))

    def check(
        self, current: SiteConfig, sections: Mapping[str, Any], screens_only: bool = True
    ) -> SiteConfig:
        """The effective config with ``sections`` replaced, or :class:`InvalidSettings` naming each field.

        ``screens_only``: a ``devices`` section may change lobby screens only (the admin page); the CLI's
        import takes a file whole, and the hub runs the file's other devices anyway (screens.py).
        """
        for name in sections:
            check_name(name)
        try:
            config = overlay(current, sections)
        except ValidationError as exc:
            raise InvalidSettings(problems_of(exc)) from None
        if screens_only and "devices" in sections:
            problems = screen_changes_only(current, config)
            if problems:
                raise InvalidSettings(problems)
        return config

    def save(
        self,
        current: SiteConfig,
        sections: Mapping[str, Any],
        actor: Actor,
        now: Any,
        day: date,
        versions: Mapping[str, int] | None = None,
    ) -> tuple[SiteConfig, list[StoredSection]]:
        """Check, refuse what today's queue still needs, save (audited, all or nothing).

        ``versions``: the version each section was based on (absent: replace
        whatever is stored, the CLI's import). Returns the new effective config.
        """
        config = self.check(current, sections, screens_only=versions is not None)
        changes = [
            SectionChange(
                name,
                section_value(config, name),
                section_value(current, name),
                None if versions is None else versions[name],
            )
            for name in sections
        ]
        gone_services = {s.code for s in current.services} - {s.code for s in config.services}
        gone_counters = {c.number for c in current.counters} - {c.number for c in config.counters}
        prefixes = {s.code: s.prefix for s in current.services}
        new_prefixes = [
            (i, s.code, s.prefix) for i, s in enumerate(config.services) if prefixes.get(s.code) != s.prefix
        ]

        def still_needed(conn: Connection) -> None:
            refuse_in_use(conn, current, day, gone_services, gone_counters)
            refuse_prefix_taken(conn, day, new_prefixes)

        saved = self.store.save(changes, actor, now, still_needed)
        return config, saved


def check_name(name: str) -> None:
    if name not in EDITABLE:
        raise UnknownSection(name)


def refuse_in_use(
    conn: Connection, current: SiteConfig, day: date, services: Iterable[str], counters: Iterable[int]
) -> None:
    """:class:`SettingInUse` when a service or counter to be taken away is still needed today."""
    services, counters = set(services), set(counters)
    if not services and not counters:
        return
    for found in in_use(conn, day, services, counters):
        raise SettingInUse(*_in_use_words(current, found))
    if counters:
        query = select(counter_states.c.number, counter_states.c.post).where(
            counter_states.c.number.in_(sorted(counters)), counter_states.c.post.is_not(None)
        )
        row = conn.execute(query).first()
        if row is not None:
            index = [c.number for c in current.counters].index(row.number)
            raise SettingInUse(
                f"counters[{index}]",
                f"{row.number} 号窗口不能删除：有工作人员在岗；请先让其退出登录（或由管理员结束其登录）",
                f"counter {row.number} cannot be removed: a clerk is on post there; "
                "they log out (or an admin ends their login) first",
            )


def refuse_prefix_taken(conn: Connection, day: date, prefixes: Iterable[tuple[int, str, str]]) -> None:
    """:class:`SettingInUse` when a service is given a prefix another service numbered tickets with today."""
    for index, code, prefix in prefixes:
        other = prefix_taken(conn, day, code, prefix)
        if other is not None:
            raise SettingInUse(
                f"services[{index}].prefix",
                f"前缀 {prefix} 今天已用于业务 {other} 的号码；业务 {code} 会取到已发出的号码："
                "请换一个前缀，或明天再改用这个前缀",
                f"prefix {prefix} numbered today's tickets of service {other}; service {code} would draw "
                "numbers already given: choose another prefix, or give it this one tomorrow",
            )


def _in_use_words(current: SiteConfig, found: InUse) -> tuple[str, str, str]:
    """The field, and why it cannot go in Chinese and in English."""
    if found.kind == "service":
        field = f"services[{[s.code for s in current.services].index(found.key)}]"
        if found.of == "bookings":
            return (
                field,
                f"业务 {found.key} 不能删除：今天起还有 {found.count} 个预约；请先取消或改约",
                f"service {found.key} cannot be removed: {found.count} appointment(s) from today on are "
                "booked for it; cancel or move them first",
            )
        return (
            field,
            f"业务 {found.key} 不能删除：今天还有 {found.count} 个号在等候或在窗口办理；请先办完或取消"
            "（在此期间如要停止取号，请在特殊日期中把该业务今天设为关闭）",
            f"service {found.key} cannot be removed: {found.count} of today's tickets are waiting for it "
            "or at a counter; serve or cancel them first (to stop new tickets meanwhile, close the "
            "service for today in hours.exceptions)",
        )
    number = int(found.key)
    field = f"counters[{[c.number for c in current.counters].index(number)}]"
    if found.of == "bookings":
        return (
            field,
            f"{number} 号窗口不能删除：今天起还有 {found.count} 个预约在该窗口；请先取消或改约",
            f"counter {number} cannot be removed: {found.count} appointment(s) from today on are booked "
            "at it; cancel or move them first",
        )
    return (
        field,
        f"{number} 号窗口不能删除：今天还有 {found.count} 个号在该窗口或转到该窗口；请先办完或转走",
        f"counter {number} cannot be removed: {found.count} of today's tickets are at it or "
        "transferred to it; finish or transfer them first",
    )


def apply(hub: Hub, config: SiteConfig, saved: list[StoredSection]) -> None:
    """Make ``config`` (with the ``saved`` sections) the hub's now: the core's hall and every service
    that keeps part of it, then tell every screen (``settings_changed``, then a fresh snapshot)."""
    hall = config.hall()
    hub.store.ensure_counters(hall.counters)
    hub.config = config
    core = hub.core
    core.hall = hall
    if hub.dispenser.writer is not core:  # the dispenser's own core, on its own connection
        hub.dispenser.writer.hall = hall
    core.pace.reshape(hall.counters)
    book = hub.appointments
    book.calendar, book.services, book.counters = hall.calendar, hall.services, hall.counters
    book.rules = config.appointment_rules()
    hub.cases.calendar = hall.calendar
    hub.complaints.calendar = hall.calendar
    hub.statistics.statistics.calendar = hall.calendar
    hub.closing.carry_over = config.hours.at_closing == "carry_over"
    hub.settings.applied.update({s.section: s.version for s in saved})
    for device in config.devices:  # a lobby screen added here is a configured device on the board
        if device.kind == LOBBY_SCREEN:
            hub.devices.register(device.name, device.kind)
    hub.settings.tell_applied(config)
    hub.snapshots.invalidate()
    changed = {"sections": [s.section for s in saved], "version": max(s.version for s in saved)}
    hub.push.publish(SETTINGS_CHANGED, changed, HALL)
    hub.push.publish("snapshot", hub.snapshots.get(), HALL)
