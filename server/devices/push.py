"""How the device services reach the screens and run their blocking work.

Every device service gets one :class:`Push` in its constructor: ``publish``
sends an event to a Socket.IO room, ``spawn`` starts a task on the server's
loop, ``executor`` gives one native thread for a device's blocking I/O.
``serve`` hands the hub a :class:`SocketPush`; the CLI, which has no sockets,
an :class:`OfflinePush`. Nothing is filled in after a service is built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Protocol

#: ``publish(event, payload, room)``: how a service reaches the screens.
Publish = Callable[[str, dict[str, Any], str], None]


class Push(Protocol):
    """The live side a device service talks to."""

    def publish(self, event: str, payload: dict[str, Any], room: str) -> None: ...

    def spawn(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def executor(self) -> Executor: ...


class SocketPush:
    """Events go out through the app's Socket.IO server; tasks run on its loop (gevent in ``run``)."""

    def __init__(self, socketio: Any) -> None:
        self.socketio = socketio

    def publish(self, event: str, payload: dict[str, Any], room: str) -> None:
        self.socketio.emit(event, payload, to=room)

    def spawn(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.socketio.start_background_task(fn, *args)

    def executor(self) -> Executor:
        return device_executor(self.socketio.async_mode)


class OfflinePush:
    """No screens to tell (CLI commands): events are dropped, tasks run on plain threads."""

    def publish(self, event: str, payload: dict[str, Any], room: str) -> None:
        """Nobody listens: a CLI process has no sockets."""

    def spawn(self, fn: Callable[..., Any], *args: Any) -> Any:
        thread = threading.Thread(target=fn, args=args, daemon=True)
        thread.start()
        return thread

    def executor(self) -> Executor:
        return ThreadPoolExecutor(1, thread_name_prefix="device")


def device_executor(async_mode: str) -> Executor:
    """One real thread for one device's blocking I/O (USB, serial, sockets, image rendering).

    Under gevent, a plain thread pool would be patched into greenlets and a
    blocking USB write would stall every screen: gevent's own pool runs a
    native thread and lets the loop wait on it cooperatively. One thread per
    device, always the same: a connection opened on one native thread is
    never used from another.
    """
    if async_mode == "gevent":
        from gevent.threadpool import ThreadPoolExecutor as GeventPool

        return QuietExecutor(GeventPool(1))  # type: ignore[return-value]
    return ThreadPoolExecutor(1, thread_name_prefix="device")


class QuietExecutor:
    """Hands a task's exception back through its future instead of letting gevent print it.

    A printer that is switched off makes every connection attempt fail; that is
    a device state for the admin page, not a traceback in the hub's log.
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> _Outcome:
        def run() -> tuple[bool, Any]:
            try:
                return True, fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001  carried to the caller, as concurrent.futures does
                return False, exc

        return _Outcome(self.pool.submit(run))

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait)


class _Outcome:
    def __init__(self, future: Any) -> None:
        self.future = future

    def result(self, timeout: float | None = None) -> Any:
        ok, value = self.future.result(timeout=timeout)
        if not ok:
            raise value
        return value

    def cancel(self) -> bool:
        return self.future.cancel()
