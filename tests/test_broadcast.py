"""The broadcaster's batches, without a hub process: what one batch of core events becomes.

A fake Socket.IO server records what is emitted to which room; a fake core
counts its reads of the services. The point: a burst of events costs one
read and few messages, and every version is accounted for.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from server import live
from server.core import events as ev
from server.core.events import EventBus, HallEvent
from server.devices.rooms import HALL, VISITORS, ticket_room


class FakeSocketIO:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict[str, Any], str]] = []

    def start_background_task(self, *_args: Any) -> None:
        """The test calls send() itself."""

    def emit(self, name: str, payload: dict[str, Any], to: str, ignore_queue: bool = False) -> None:
        # The hall's deltas go to this process's own sockets only: every process of a cluster hears
        # every event and sends it itself (server/cluster.py).
        assert ignore_queue, "a hall delta must not go through the message queue too"
        self.emitted.append((name, payload, to))


class FakeCore:
    def __init__(self) -> None:
        self.reads = 0
        self.hall = SimpleNamespace(calendar=SimpleNamespace(business_day=lambda _now: None))

    def service_queues(self) -> dict[str, Any]:
        self.reads += 1
        return {
            "business_day": "2026-11-30",
            "services": [
                {"code": "PAY", "waiting": 7, "next_numbers": ["A001"]},
                {"code": "ASK", "waiting": 2, "next_numbers": ["B0001"]},
            ],
        }


def ticket(number: str, service: str = "PAY") -> dict[str, Any]:
    return {"id": "id-" + number, "number": number, "service": service, "status": "waiting"}


def stamped(events: list[HallEvent]) -> list[HallEvent]:
    """The events as the bus publishes them: with versions 1, 2, …"""
    bus = EventBus()
    out: list[HallEvent] = []
    bus.subscribe(out.append)
    for event in events:
        bus.publish(event)
    assert [e.version for e in out] == list(range(1, len(events) + 1))
    return out


def broadcaster() -> tuple[live.Broadcaster, FakeSocketIO, FakeCore]:
    socketio, core = FakeSocketIO(), FakeCore()
    hub = SimpleNamespace(core=core, clock=lambda: None)
    return live.Broadcaster(socketio, hub), socketio, core  # type: ignore[arg-type]


SERVICES = ("ASK", "PAY")


def test_a_burst_of_tickets_is_one_read_and_one_message() -> None:
    sender, socketio, core = broadcaster()
    burst = [
        HallEvent(
            ev.TICKET_ISSUED, {"ticket": ticket(f"A{n:03}", "PAY" if n % 2 else "ASK"), "waiting_ahead": n}
        )
        for n in range(1, 301)
    ]
    sender.send(stamped(burst))
    assert core.reads == 1
    assert len(socketio.emitted) == 2
    moved = {"services": ["ASK", "PAY"], "day": "2026-11-30"}
    assert socketio.emitted[1] == (live.QUEUE_MOVED, moved, VISITORS)
    name, payload, room = socketio.emitted[0]
    assert (name, room) == (ev.TICKET_ISSUED, HALL)
    assert (payload["from"], payload["v"], payload["issued"]) == (1, 300, 300)
    assert payload["ticket"]["number"] == "A300" and payload["waiting_ahead"] == 300
    assert [s["code"] for s in payload["services"]] == ["ASK", "PAY"]
    assert payload["day"] == "2026-11-30"


def test_one_message_per_action_in_order_and_the_phones_get_their_own() -> None:
    sender, socketio, core = broadcaster()
    finished, called = ticket("A001"), ticket("A002")
    view = {"number": 1, "current": called}
    batch = stamped(
        [
            HallEvent(ev.TICKET_ISSUED, {"ticket": ticket("A003"), "waiting_ahead": 1}),
            HallEvent(
                ev.TICKET_CALLED,
                {
                    "ticket": called,
                    "counter": {"number": 1},
                    "service": {"code": "PAY"},
                    "recall": False,
                    "counters": [view],
                    "call": {"ticket_id": called["id"]},
                    "finished": finished,
                },
            ),
            HallEvent(ev.TICKET_ISSUED, {"ticket": ticket("A004"), "waiting_ahead": 1}),
            HallEvent(ev.COUNTER_CHANGED, {"counter": 2, "counters": [{"number": 2, "current": None}]}),
        ]
    )
    sender.send(batch)
    assert core.reads == 1
    hall = [
        (name, payload["v"], "from" in payload) for name, payload, room in socketio.emitted if room == HALL
    ]
    assert hall == [
        (ev.TICKET_ISSUED, 1, False),
        (ev.TICKET_CALLED, 2, False),
        (ev.TICKET_ISSUED, 3, False),
        (ev.COUNTER_CHANGED, 4, False),
    ]
    phones = [(name, payload, room) for name, payload, room in socketio.emitted if room != HALL]
    # Every phone hears once which services moved: the ticket issued and called (PAY).
    assert phones[-1] == (live.QUEUE_MOVED, {"services": ["PAY"], "day": "2026-11-30"}, VISITORS)
    assert phones[:-1] == [
        (
            ev.TICKET_CALLED,
            {"ticket": called, "counter": {"number": 1}, "service": {"code": "PAY"}, "recall": False},
            ticket_room(called["id"]),
        ),
        (ev.TICKET_CHANGED, {"ticket": finished, "event": "finished"}, ticket_room(finished["id"])),
    ]
    counter_changed = [payload for name, payload, room in socketio.emitted if room == HALL][-1]
    # A counter changed with no services in its view: none whose estimate moved, nothing read for it.
    assert "services" not in counter_changed


def test_a_batch_while_no_socket_is_open_is_not_read_nor_sent() -> None:
    """Nobody listening (a hub driven only through HTTP): no read of the services per batch; as soon
    as one socket is open, the next batch goes out whole, as before."""
    socketio, core = FakeSocketIO(), FakeCore()
    hub = SimpleNamespace(core=core, clock=lambda: None)
    listeners = live.Connections()
    sender = live.Broadcaster(socketio, hub, listeners)  # type: ignore[arg-type]
    issued = stamped([HallEvent(ev.TICKET_ISSUED, {"ticket": ticket(f"A{n:03}")}) for n in (1, 2)])
    sender.send(issued[:1])
    assert (core.reads, socketio.emitted) == (0, [])
    listeners.add(1)
    sender.send(issued[1:])
    assert core.reads == 1
    assert [(name, room) for name, _, room in socketio.emitted] == [
        (ev.TICKET_ISSUED, HALL),
        (live.QUEUE_MOVED, VISITORS),
    ]
    assert socketio.emitted[0][1]["v"] == 2
    listeners.add(-1)
    sender.send(issued)
    assert core.reads == 1 and len(socketio.emitted) == 2


def test_an_event_while_no_socket_is_open_is_not_queued() -> None:
    """The sending thread is not even woken for nobody; once a socket is open, every event is queued."""
    listeners = live.Connections()
    sender = live.Broadcaster(FakeSocketIO(), SimpleNamespace(core=FakeCore()), listeners)  # type: ignore[arg-type]
    issued = stamped([HallEvent(ev.TICKET_ISSUED, {"ticket": ticket(f"A{n:03}")}) for n in (1, 2, 3)])
    sender.enqueue(issued[0])
    assert sender.pending.empty()
    listeners.add(1)
    for event in issued[1:]:
        sender.enqueue(event)
    queued = [sender.pending.get_nowait() for _ in range(sender.pending.qsize())]
    assert [event.version for event in queued] == [2, 3]
