"""Staff on post, the hub's side: logins put clerks on post, their end takes them off.

The rules are the queue core's (:meth:`~server.core.queue.QueueCore.take_post`,
:meth:`~server.core.queue.QueueCore.end_post`); this module ties them to the
logins kept by :class:`~server.store.accounts.Accounts`:

- a login at a counter (staff, or an admin who gives one) puts the clerk on
  post there; one on post elsewhere is refused or moved (``[staff]
  second_login``, or the login's own ``move``);
- a logout takes them off (refused while a visitor is at the counter, unless
  forced);
- every other end of a login (expired, the user disabled or given a new
  password, by the CLI in another process too) is noticed by :class:`PostWatch`
  within a second, and at once after an admin's change here
  (:meth:`StaffPosts.settle`). A post whose login ended while the same clerk
  holds a newer one at the same counter passes to it: a console logged in
  again keeps its visitor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .core.errors import QueueError
from .core.posts import PostEnd
from .core.queue import PostTaken, QueueCore
from .periodic import Periodic
from .store.accounts import (
    Accounts,
    Login,
    Principal,
    live_counter_sessions,
    live_session_at,
    sessions_over,
)

log = logging.getLogger(__name__)

#: Roles a login at a counter puts on post (triage and supervisors log in at none).
POST_ROLES = frozenset({"staff", "admin"})
#: How often the watch looks for posts whose login is over: a counter closes at most this late.
WATCH_SECONDS = 1.0


@dataclass(frozen=True)
class Left:
    """What ended with a post: the logins whose sockets the caller drops."""

    ended: list[str]


class StaffPosts:
    """Puts clerks on post at login and takes them off when their login ends."""

    def __init__(self, core: QueueCore, accounts: Accounts, second_login: str) -> None:
        self.core = core
        self.accounts = accounts
        #: ``refuse`` or ``move``: what a login at a second counter does when it does not say.
        self.second_login = second_login

    def moves(self, asked: bool | None) -> bool:
        """Whether a login moves the clerk from another counter: as it asks, else as the site says."""
        return asked if asked is not None else self.second_login == "move"

    def admit(self, principal: Principal, move: bool) -> None:
        """Before a login is made: refuse a clerk on post elsewhere (not moving) or at a counter
        another clerk holds. A post whose login is over is ended first, so it never blocks."""
        if principal.counter is None or principal.role not in POST_ROLES:
            return
        self.settle()
        self.core.check_post(principal.counter, principal.name, move)

    def take(self, made: Login, move: bool) -> PostTaken | None:
        """After a login: the clerk on post at its counter. Returns None for a login at no counter.

        A refusal here (a race with another login of the same clerk) ends the
        new login, then raises: the clerk is not left logged in off post.
        """
        principal = made.principal
        if principal.counter is None or principal.role not in POST_ROLES:
            return None
        try:
            taken = self.core.take_post(principal.counter, principal.name, principal.key, move)
        except Exception:
            self.accounts.end_session(principal.key, self.core.clock())
            raise
        for post in taken.moved:
            # With single_session off, the login at the other counter is still open: it ends with its post.
            self.accounts.end_session(post["session"], self.core.clock())
        return taken

    def leave(self, principal: Principal, force: bool) -> None:
        """A logout: off post (refused while a visitor is at the counter, unless ``force``).

        Another login of the same clerk at the same counter (single_session
        off) keeps the post instead.
        """
        if principal.counter is None or principal.role not in POST_ROLES:
            return
        now = self.core.clock()
        other = live_session_at(self.accounts, principal.name, principal.counter, now)
        if other is not None and other != principal.key:
            self.core.hand_post(principal.counter, principal.key, other)
            return
        self.core.end_post(principal.counter, principal.key, PostEnd.LOGOUT, force=force)

    def end_by_admin(self, counter: int, admin: str) -> str | None:
        """An admin ends the post at ``counter`` (a clerk gone without logging out): the login that held
        it, which the caller ends; None when nobody is on post there."""
        state = next((s for s in self.core.counter_states() if s.number == counter), None)
        if state is None or state.post is None or state.post_session is None:
            return None
        if not self.core.end_post(counter, state.post_session, PostEnd.ENDED_BY_ADMIN, by=admin):
            return None
        return state.post_session

    def settle(self) -> int:
        """End every post whose login is over (or pass it to the clerk's newer login at that counter).

        Returns how many posts ended. Cheap: one read of the counters, one of
        their logins; nothing when every post's login holds.
        """
        held = [s for s in self.core.counter_states() if s.post is not None and s.post_session]
        if not held:
            return 0
        now = self.core.clock()
        over = sessions_over(self.accounts, [s.post_session or "" for s in held], now)
        ended = 0
        for state in held:
            gone = over.get(state.post_session or "")
            if gone is None or state.post is None:
                continue
            newer = live_session_at(self.accounts, state.post, state.number, now)
            if newer is not None and self.core.hand_post(state.number, gone.key, newer):
                continue
            reason = PostEnd.EXPIRED if gone.expired else PostEnd.SESSION_ENDED
            if self.core.end_post(state.number, gone.key, reason, at=gone.at):
                ended += 1
                log.info("counter %s: the clerk's login %s; off post", state.number, reason.value)
        return ended

    def adopt(self) -> int:
        """At start: a live login at a counter whose counter has nobody on post puts its clerk on post.

        Logins made before the hub kept posts (an upgrade) would otherwise leave
        clerks at closed counters until they log in again. The newest login of a
        clerk wins; a counter or a clerk already on post is left as it is. Returns
        how many posts began.
        """
        now = self.core.clock()
        held = {s.number: s.post for s in self.core.counter_states() if s.post is not None}
        on_post = set(held.values())
        began = 0
        for key, username, role, counter in live_counter_sessions(self.accounts, now):
            if role not in POST_ROLES or username in on_post or counter in held:
                continue
            try:
                self.core.take_post(counter, username, key)
            except QueueError:  # a counter the site no longer has, or taken meanwhile: leave it
                continue
            held[counter] = username
            on_post.add(username)
            began += 1
        if began:
            log.info("%d clerk(s) on post from logins made before the hub kept posts", began)
        return began


class PostWatch(Periodic[int]):
    """Ends posts whose login is over every :data:`WATCH_SECONDS` (a serving hub only)."""

    def __init__(
        self,
        posts: StaffPosts,
        spawn: Callable[..., object],
        every: float = WATCH_SECONDS,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            "ending the posts of logins that are over", posts.settle, 0, every, spawn, on_store_failure
        )
