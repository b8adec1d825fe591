"""The hall's outbox: one task ships the hall's event log to the company's central service.

Why an HTTP service and not the central database: a partner hall must not hold
credentials for the company's store. The hall posts batches to the central
service's ingest endpoint (server/central/api.py) with a token of its own, and
the service decides what a hall may write (its own rows, nothing else).

- **Resumable**: each stream (server/central/wire.py) is read after a cursor the
  hall keeps in ``outbox_marks``; the central service keeps its own and answers
  it with every batch. The hall moves its cursor to the central service's answer,
  so a central store restored to an older state is filled again from where it is.
- **Idempotent by event id**: the central store keys each row by (hall, the
  row's id) and inserts with ``ON CONFLICT DO NOTHING``; ticket rows (and complaint,
  case and step rows) carry the id of their last event and are only replaced by a newer one.
- **Nothing personal**: complaints and cases travel as their figures need them
  (server/central/wire.py ``SHIPPED_COLUMNS``), their logs stay here. A batch sent
  twice (the answer was lost) changes nothing.
- **Never blocks the hall**: one task on the hub's loop, separate from every
  request; the HTTP call has a timeout; a dead link is logged once, retried after
  ``every_seconds`` and then twice as long each time up to ``max_backoff_seconds``;
  the log waits in the hall's own tables meanwhile (nothing is queued in memory).
- **Templates**: the central service answers the templates this hall has not
  taken; the hall applies each through the admin console's own path (settings
  saved, audited with who = ``central``, applied live; notices posted on the
  board, audited) and reports applied or refused, with the reason, in its next call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .central.wire import INGEST_PATH, STREAMS, encode
from .config import CentralSection
from .core.calendar import Clock
from .core.queue import Hall
from .reports.figures import satisfaction_config
from .store.outbox import Batch, OutboxStore

if TYPE_CHECKING:
    from .hub import Hub

log = logging.getLogger(__name__)

#: Batches one round ships at most before it lets the loop breathe (the next round follows at once).
ROUNDS = 20
#: What a template's section may be, and how the hall takes it.
SETTINGS_SECTIONS = ("services", "priority")

Sender = Callable[[str, dict[str, Any], str, float], dict[str, Any]]
TemplateTaker = Callable[[dict[str, Any]], tuple[bool, str]]


class LinkDown(Exception):
    """The central service did not take a batch (no answer, or a refusal): try again later."""


def post_json(url: str, payload: dict[str, Any], token: str, timeout: float) -> dict[str, Any]:
    """POST ``payload`` to the central service; its JSON answer, or :class:`LinkDown`."""
    # Imported here: only a hall with [central] ships, and a hub at rest carries no HTTP client (issue 10).
    import requests

    try:
        answer = requests.post(
            url, json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise LinkDown(f"{type(exc).__name__}: {exc}") from None
    if answer.status_code != 200:
        try:
            detail = answer.json().get("error", "")
        except ValueError:
            detail = answer.text[:200]
        raise LinkDown(f"HTTP {answer.status_code}: {detail}")
    body: dict[str, Any] = answer.json()
    return body


def hall_profile(hall: Hall, region: str) -> dict[str, Any]:
    """What the central service needs to name a hall's groups and judge its share satisfied."""
    calendar = hall.calendar
    return {
        "region": region,
        "name_zh": hall.name_zh,
        "name_en": hall.name_en,
        "timezone": calendar.timezone,
        "day_starts_at": calendar.day_starts_at.strftime("%H:%M"),
        "satisfaction": satisfaction_config(hall),
        "services": [
            {"code": s.code, "name_zh": s.name_zh, "name_en": s.name_en} for s in hall.services.values()
        ],
        "counters": [
            {"number": c.number, "name_zh": c.name_zh, "name_en": c.name_en} for c in hall.counters.values()
        ],
    }


class HallOutbox:
    """Ships the hall's streams to the central service, takes its templates; off without ``[central]``."""

    def __init__(
        self,
        section: CentralSection | None,
        store: OutboxStore,
        clock: Clock,
        hall: Callable[[], Hall],
        take_template: TemplateTaker,
        spawn: Callable[..., object],
        send: Sender = post_json,
        on_duty: Callable[[], bool] | None = None,
    ) -> None:
        self.section = section
        #: Whether this process ships now: in a cluster, only the holder of the "outbox" lease
        #: (a template applied by two processes would post its notice twice); always on a lone hub.
        self.on_duty = on_duty or (lambda: True)
        self.store = store
        self.clock = clock
        self.hall = hall
        self.take_template = take_template
        self.spawn = spawn
        self.send = send
        self._stop = threading.Event()
        self.task: object = None
        #: Template outcomes not yet told to the central service (kept across a dead link).
        self._results: list[dict[str, Any]] = []
        #: The link as the admin can read it: "off", "up", "down" or "standby" (another process of the
        #: cluster ships), and the last failure.
        self.link = "off" if section is None else "starting"
        self.last_error = ""
        self.last_shipped_at: datetime | None = None

    @property
    def needed(self) -> bool:
        return self.section is not None

    def start(self) -> None:
        if self.needed:
            self.task = self.spawn(self.run)

    def run(self) -> None:
        """The task: a round every ``every_seconds`` while the link is up, backing off while it is down."""
        assert self.section is not None
        delay = self.section.every_seconds
        while not self._stop.wait(delay):
            if self.once():
                delay = self.section.every_seconds
            else:
                delay = min(delay * 2, float(self.section.max_backoff_seconds))

    def once(self) -> bool:
        """Ship what is new (up to :data:`ROUNDS` batches), take the templates answered; True: link up."""
        section = self.section
        if section is None:
            return False
        if not self.on_duty():  # another process of the cluster ships: this one stands by
            self.link, self.last_error = "standby", ""
            return True
        token = section.hall_token() or ""
        try:
            for _ in range(ROUNDS):
                shipped = self._round(section, token)
                if not shipped:
                    break
        except LinkDown as exc:
            if self.link != "down":
                log.warning("central link down (%s): the hall keeps its log and retries", exc)
            self.link, self.last_error = "down", str(exc)
            return False
        except Exception:  # a store failure: the next round tries again, the task never dies of it
            log.exception("central outbox round failed")
            self.link, self.last_error = "down", "store"
            return False
        if self.link != "up":
            log.info("central link up: %s", section.url)
        self.link, self.last_error = "up", ""
        return True

    def _round(self, section: CentralSection, token: str) -> bool:
        """One call: a batch of each stream and the template outcomes. True when there may be more to do."""
        now = self.clock()
        settled = None
        if self.store.engine.dialect.name == "postgresql" and section.settle_seconds:
            settled = now - timedelta(seconds=section.settle_seconds)
        cursors = self.store.marks("stream:")
        batches = [
            self.store.batch(name, table, cursors.get(name, 0), section.batch, settled)
            for name, table in STREAMS.items()
        ]
        hall = self.hall()
        results, self._results = self._results, []
        payload = {
            "hall": section.hall,
            "profile": hall_profile(hall, section.region),
            "queue": self.store.queue_now(hall.calendar.business_day(now)),
            "pending": sum(b.pending for b in batches),
            "last_event_at": _latest(batches),
            "streams": {b.stream: _stream_json(b) for b in batches},
            "template_results": results,
        }
        try:
            answer = self.send(section.url.rstrip("/") + INGEST_PATH, payload, token, section.timeout_seconds)
        except LinkDown:
            self._results = results + self._results
            raise
        for name, position in answer.get("cursors", {}).items():
            if name in STREAMS and cursors.get(name) != position:
                self.store.mark(f"stream:{name}", int(position), now)
        self.last_shipped_at = now
        for template in answer.get("templates", []):
            if not self.on_duty():  # the lease ran out meanwhile: the new holder is sent it again
                break
            self._results.append(self._take(template, now))
        # A stream the central service passed over (it does not know it yet) is answered no cursor:
        # it stays where it was, to be sent again, and is not "more to do" this round.
        answered = answer.get("cursors", {})
        moved = any(answered.get(b.stream, b.after) != b.after for b in batches)
        return moved or bool(self._results)

    def _take(self, template: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Apply one template version once (a version taken before is told again, not applied again)."""
        ident, version = int(template["id"]), int(template["version"])
        taken = self.store.marks("template:").get(str(ident), 0)
        if taken >= version:
            ok, message = True, "taken before"
        else:
            try:
                ok, message = self.take_template(template)
            except Exception as exc:  # refused, not retried each round: a new version is taken again
                log.exception("central template %s v%s could not be applied", template.get("name"), version)
                ok, message = False, f"the hall failed to apply it ({type(exc).__name__})"
            self.store.mark(f"template:{ident}", version, now)
            log.info(
                "central template %s v%s %s %s",
                template.get("name"),
                version,
                "applied" if ok else "refused",
                message,
            )
        return {
            "template_id": ident,
            "version": version,
            "state": "applied" if ok else "refused",
            "message": message[:500],
        }

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        join = getattr(self.task, "join", None)
        if join is not None:
            join(timeout)


def _stream_json(batch: Batch) -> dict[str, Any]:
    views = {name: [encode(row) for row in rows] for name, rows in batch.views.items()}
    return {"after": batch.after, "upto": batch.upto, "rows": [encode(row) for row in batch.rows], **views}


def _latest(batches: list[Batch]) -> str | None:
    moments = [b.last_at for b in batches if b.last_at is not None]
    return max(moments).isoformat() if moments else None


def take_template(hub: Hub, template: dict[str, Any]) -> tuple[bool, str]:
    """Apply a central template through the admin console's path; (applied?, why not)."""
    from pydantic import ValidationError

    from .api.notices import NoticeBody
    from .config import describe_problem
    from .core.errors import QueueError
    from .settings import InvalidSettings, SettingInUse, apply
    from .store.accounts import Actor

    section, value = template.get("section"), template.get("value")
    actor = Actor("central", f"template {template.get('name')} v{template.get('version')}")
    try:
        if section in SETTINGS_SECTIONS:
            with hub.settings.lock:
                now = hub.clock()
                day: date = hub.core.hall.calendar.business_day(now)
                version = int(hub.settings.view(section, hub.config).public()["version"])
                config, saved = hub.settings.save(
                    hub.config, {section: value}, actor, now, day, {section: version}
                )
                apply(hub, config, saved)
            return True, ""
        if section == "notices":  # checked as the admin console's POST /admin/notices checks its body
            hub.notices.create(NoticeBody.model_validate(value).draft(), actor.name, actor.address)
            return True, ""
    except InvalidSettings as exc:  # its message names the first field and what was expected
        return False, str(exc)
    except SettingInUse as exc:
        return False, f"{exc.field}: {exc}"
    except QueueError as exc:
        return False, str(exc)
    except ValidationError as exc:  # a notice the admin console would refuse as it is sent
        return False, f"notices: {describe_problem(exc.errors()[0])}"
    return False, f"section {section!r}: expected one of services, priority, notices"
