"""One driver per device across hub processes (issue 15): leases in PostgreSQL, fencing, takeover.

On a real PostgreSQL database (the ``pg_url`` fixture): holders on threads
race for the same devices with the real statements; a holder that stopped
renewing loses its lease to another and its late marks on a print job are
refused; and real processes (``tests/lease_holder.py``, the hub built by the
composition root with its devices on) share a
:class:`~drivers.twins.virtual_printer.VirtualPrinter` twin on 127.0.0.1: the
holder is killed with SIGKILL with jobs pending, another process takes the
printer over within 5 s and prints every job, each once, the one that was
being sent marked 补打 COPY. A serial bus (a framed LED display twin on a pty)
is opened by its holder only and moves to the other when the holder stops
renewing. What is asserted is what the twins decoded from the bytes and what
is in ``print_jobs`` and ``device_leases``.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from drivers.signs.frames import FRAME_PRESETS, FrameFormat
from drivers.twins.virtual_bus import VirtualFramedDisplays, VirtualSerialBus
from drivers.twins.virtual_printer import VirtualPrinter
from server.bootstrap import bootstrap, driven_by, hall_duty
from server.config import load_config
from server.core.printjobs import PrintRequest
from server.devices.board import DeviceBoard
from server.devices.counters import CounterDevices
from server.devices.leases import LeaseKeeper, bus_device, printer_device
from server.devices.push import OfflinePush
from server.periodic import Periodic
from server.store import make_engine, open_store
from server.store.leases import Fence, SqlLeases
from server.store.print_queue import PrintJobs
from server.store.schema import device_leases
from tests.support import ROOT, write_site
from tests.waiting import wait_until

pytestmark = pytest.mark.postgres

PRINTER = """
[[devices]]
name = "printer-1"
kind = "printer"
settings = {{ connector = "network", host = "127.0.0.1", port = {port} }}
"""
DEVICE = printer_device("printer-1")
REQUEST = PrintRequest(printer="printer-1", kiosk=None, url_base="")
WAIT = 30


def engine_of(pg_url: str) -> Engine:
    open_store(pg_url).engine.dispose()  # migrated to the head, device_leases included
    return make_engine(pg_url)


def test_holders_racing_for_the_same_devices_get_each_exactly_once(pg_url: str) -> None:
    engine = engine_of(pg_url)
    holders = [SqlLeases(engine, f"holder-{n}") for n in range(4)]
    devices = [f"printer:p{n}" for n in range(6)]
    start = threading.Barrier(len(holders))
    won: dict[str, list[tuple[str, int]]] = {device: [] for device in devices}

    def race(leases: SqlLeases) -> None:
        start.wait()
        for device in devices:
            generation = leases.take(device)
            if generation is not None:
                won[device].append((leases.holder, generation))

    threads = [threading.Thread(target=race, args=(leases,)) for leases in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert all(len(winners) == 1 for winners in won.values()), won
    assert {generation for winners in won.values() for _, generation in winners} == {1}
    # Each winner renews its own; nobody renews another's.
    for leases in holders:
        mine = {d: 1 for d, winners in won.items() if winners[0][0] == leases.holder}
        assert leases.renew(dict.fromkeys(devices, 1)) == set(mine)
    table = {lease.device: lease.holder for lease in holders[0].leases()}
    assert table == {device: winners[0][0] for device, winners in won.items()}
    engine.dispose()


def test_a_hall_wide_duty_runs_on_its_leaseholder_only_and_moves_when_it_stops_renewing(pg_url: str) -> None:
    """Two processes' keepers want one duty (as bootstrap's lease_duties has them): the rounds of the
    one without the lease do nothing; once the holder stops renewing, the other takes over."""
    engine = engine_of(pg_url)
    spawn = OfflinePush().spawn
    rounds: dict[str, int] = {"a": 0, "b": 0}
    keepers, tasks = {}, {}
    for name, ttl in (("a", 1.0), ("b", 30.0)):
        keeper = LeaseKeeper(SqlLeases(engine, name, ttl=ttl), name, spawn, fenced=True)
        keeper.want("duty:notice-watch", lambda duty, generation: None, lambda duty: None)
        task: Periodic[bool] = Periodic(
            f"duty {name}",
            lambda name=name: rounds.__setitem__(name, rounds[name] + 1) or True,
            False,
            60,
            spawn,
        )
        task.only_while(hall_duty(keeper, "duty:notice-watch"))
        keepers[name], tasks[name] = keeper, task
    keepers["a"].once()
    keepers["b"].once()  # a holds it: b waits
    for _ in range(3):
        assert tasks["a"].once() is True and tasks["b"].once() is False
    assert rounds == {"a": 3, "b": 0}
    # a stops renewing (stuck, or killed): its lease runs out, and b's next round takes the duty.
    assert wait_until(lambda: not keepers["a"].holds("duty:notice-watch"), "a's lease runs out")
    assert tasks["a"].once() is False
    assert wait_until(lambda: keepers["b"].once() or keepers["b"].holds("duty:notice-watch"), "b takes it")
    assert tasks["b"].once() is True and rounds == {"a": 3, "b": 1}
    for keeper in keepers.values():
        keeper.close()
    engine.dispose()


def test_a_holder_that_stopped_renewing_loses_the_printer_and_its_marks_are_refused(
    pg_url: str, tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site.toml", pg_url)
    with site.open("a", encoding="utf-8") as site_file:
        site_file.write(PRINTER.format(port=9))  # never opened here: no process of this test drives it
    config = load_config(site)
    hub = bootstrap(config)
    engine = make_engine(pg_url)
    try:
        job = hub.core.issue("PAY", print_request=REQUEST).print_job
        assert job is not None
        jobs = PrintJobs(engine)
        old = SqlLeases(engine, "old", ttl=1.0)
        new = SqlLeases(engine, "new", ttl=30)
        lost: list[str] = []
        keeper = LeaseKeeper(old, "old", OfflinePush().spawn, fenced=True)
        keeper.want(DEVICE, lambda device, generation: None, lost.append)
        keeper.once()
        assert keeper.holds(DEVICE) and new.take(DEVICE) is None  # live: nobody else takes it
        board = DeviceBoard({"printer-1": "printer"}, hub.clock, lambda *_: None, driven_by(config, keeper))
        assert [d["driven_by"] for d in board.all()] == ["old"]  # the admin page says who drives it

        # The old holder pauses past its lease; another process takes the printer (generation 2).
        assert wait_until(lambda: new.take(DEVICE) == 2, "the lease taken over", timeout=WAIT)
        assert not keeper.holds(DEVICE)  # its own count ran out before the database's
        keeper.once()  # back from its pause: it stops the worker, renews nothing
        assert lost == [DEVICE] and old.renew({DEVICE: 1}) == set()
        stale = keeper.fence(DEVICE)
        assert stale == Fence(DEVICE, "old", 1)

        # Its late marks are refused: the job stays pending for the new driver.
        assert not jobs.attempt(job.id, stale)
        assert not jobs.finish(job.id, "printed", "", hub.clock(), stale)
        assert jobs.get(job.id).state == "queued"
        assert jobs.finish(job.id, "printed", "", hub.clock(), Fence(DEVICE, "new", 2))
        assert jobs.get(job.id).state == "printed"
        keeper.close()
        assert {lease.holder for lease in new.leases()} == {"new"}  # closing let go of nothing of others'
    finally:
        engine.dispose()
        hub.close()


class Holder:
    """``python -m tests.lease_holder`` in a child process: a hub that drives devices, killable."""

    def __init__(self, site: Path, log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.lease_holder", str(site)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env={**os.environ, "QCALL_VAR_DIR": str(site.parent / "var"), "PYTHONUNBUFFERED": "1"},
        )
        self.name = ""

    def read_holder(self) -> str:
        """Its name, once its first lease round is over (printed by the process)."""
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(WAIT):
                raise AssertionError(f"the holder did not start; see {self.log.name}")
        line = self.proc.stdout.readline().decode()
        assert line.startswith("holder "), line
        self.name = line.split(" ", 1)[1].strip()
        return self.name

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(WAIT)
        self.log.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(WAIT)
        self.log.close()


@contextmanager
def holders(site: Path, count: int) -> Iterator[list[Holder]]:
    started: list[Holder] = []
    try:
        for n in range(count):  # all at once: they race for the printer
            started.append(Holder(site, site.parent / f"holder-{n}.log"))
        for holder in started:
            holder.read_holder()
        yield started
    finally:
        for holder in started:
            if holder.proc.poll() is None:
                holder.proc.kill()
                holder.proc.wait(WAIT)


def holder_of(engine: Engine, device: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(device_leases.c.holder).where(device_leases.c.device == device)).scalar()


def test_the_printers_holder_killed_another_process_takes_over_and_prints_every_job_once(
    pg_url: str, tmp_path: Path
) -> None:
    twin = VirtualPrinter().start()
    site = write_site(tmp_path / "site.toml", pg_url, counters=1)
    with site.open("a", encoding="utf-8") as site_file:
        site_file.write(PRINTER.format(port=twin.port))
    issuer = bootstrap(load_config(site))  # a third process's role: commits tickets, drives nothing
    engine = make_engine(pg_url)
    jobs = PrintJobs(engine)
    try:
        with holders(site, 2) as both:
            # Started together, they raced for the printer: one drives it, the other waits.
            first = next(holder for holder in both if holder.name == holder_of(engine, DEVICE))
            second = next(holder for holder in both if holder is not first)

            # A ticket issued elsewhere prints on the holder's printer (picked up from the table).
            one = issuer.core.issue("PAY", print_request=REQUEST)
            assert one.print_job is not None
            assert twin.wait_for_documents(1, WAIT)
            assert wait_until(lambda: jobs.get(one.print_job.id).state == "printed", "job recorded printed")

            # Paper jammed: three more wait; the holder was sending the first of them when it died.
            twin.state = "offline"
            waiting = [issuer.core.issue("PAY", print_request=REQUEST) for _ in range(3)]
            assert len(jobs.pending(["printer-1"])) == 3
            assert all(ticket.print_job is not None for ticket in waiting)
            assert jobs.attempt(waiting[0].print_job.id)  # as the holder records it before the bytes go
            killed_at = time.monotonic()
            first.kill()

            assert wait_until(lambda: holder_of(engine, DEVICE) == second.name, "the second takes over")
            took_over = time.monotonic() - killed_at
            print(f"printer taken over {took_over:.2f} s after the SIGKILL")
            assert took_over < 5.0, f"took {took_over:.1f} s"
            twin.state = "online"
            assert twin.wait_for_documents(4, WAIT)
            assert wait_until(lambda: not jobs.pending(["printer-1"]), "every job recorded")

            numbers = [doc.text for doc in twin.documents]
            issued = [one, *waiting]
            for ticket in issued:  # every ticket on paper exactly once
                assert sum(ticket.ticket.number in text for text in numbers) == 1, numbers
            copies = [text for text in numbers if "补打 COPY" in text]
            assert len(copies) == 1 and waiting[0].ticket.number in copies[0]
            assert {jobs.get(t.print_job.id).state for t in issued} == {"printed"}

            second.stop()  # a clean stop lets go at once
            assert holder_of(engine, DEVICE) is None
    finally:
        engine.dispose()
        issuer.close()
        twin.stop()


LED = """
[[devices]]
name = "led-1"
kind = "led_display"
counter = 1
settings = {{ port = {link}, protocol = "generic-stx", address = 1 }}
"""


def test_a_serial_bus_is_opened_by_its_holder_only_and_moves_when_the_holder_stops(
    pg_url: str, tmp_path: Path
) -> None:
    twin = VirtualSerialBus(link=tmp_path / "ttyLED")
    leds = twin.add(VirtualFramedDisplays(FrameFormat(FRAME_PRESETS["generic-stx"], name="generic-stx"), [1]))
    twin.start()
    site = write_site(tmp_path / "site.toml", pg_url, counters=1)
    with site.open("a", encoding="utf-8") as site_file:
        site_file.write(LED.format(link=json.dumps(twin.path)))
    config = load_config(site)
    hubs = [bootstrap(config), bootstrap(config)]  # two processes' cores on one hall (devices off)
    engine = make_engine(pg_url)
    spawn = OfflinePush().spawn
    keepers = [LeaseKeeper(SqlLeases(engine, name, ttl=1.0), name, spawn, fenced=True) for name in "ab"]
    drivers = [
        CounterDevices(config, hub.core, hub.devices, spawn, config.serial.frame_formats, keeper)
        for hub, keeper in zip(hubs, keepers, strict=True)
    ]
    a, b = drivers
    try:
        for keeper in keepers:
            keeper.once()
        assert list(a.buses) == [twin.path] and b.buses == {}  # a took the bus; b opened nothing
        assert a.test_display(1, seconds=0.2) == ["led-1"] and b.test_display(1, seconds=0.2) == []
        assert twin.wait_for(lambda: leds.shown.count((1, "8888")) == 1), leds.shown

        # a stops renewing (frozen); its own count runs out first and it lets go of the port.
        wait_until(lambda: not keepers[0].holds(bus_device(twin.path)), "a's lease runs out")
        keepers[0].tick()
        assert a.buses == {}
        wait_until(lambda: keepers[1].once() or keepers[1].holds(bus_device(twin.path)), "b takes the bus")
        assert list(b.buses) == [twin.path]
        # b shows what counter 1 is doing now (nothing: blank), then its own test frame.
        assert twin.wait_for(lambda: leds.shown[-1:] == [(1, "")]), leds.shown
        assert b.test_display(1, seconds=0.2) == ["led-1"] and a.test_display(1, seconds=0.2) == []
        assert twin.wait_for(lambda: leds.shown.count((1, "8888")) == 2), leds.shown
        assert twin.wait_for(lambda: leds.texts.get(1) == ""), leds.texts  # back to what counter 1 shows
    finally:
        for driver in drivers:
            driver.close()
        for keeper in keepers:
            keeper.close()
        for hub in hubs:
            hub.close()
        twin.stop()
