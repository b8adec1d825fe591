"""A device token, once checked, is believed for DEVICE_TOKEN_TTL and no longer.

Every kiosk request resolves its token; asking the store each time cost the
ticket path a read. A revocation in this process forgets at once; one made by
another process (the CLI) holds for at most the TTL.
"""

from __future__ import annotations

from server.core.calendar import utc_now
from server.store import open_store
from server.store.accounts import DEVICE_TOKEN_TTL, Accounts


def test_a_revocation_here_is_at_once_and_one_elsewhere_within_the_ttl(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    now = [100.0]
    hub_side = Accounts(store.engine, clock=lambda: now[0])
    cli_side = Accounts(store.engine)  # another process, as far as the cache knows
    kiosk = hub_side.create_device_token("kiosk", "kiosk-1", utc_now())
    screen = hub_side.create_device_token("display", "lobby", utc_now())
    assert hub_side.resolve(kiosk, utc_now()) is not None
    assert hub_side.resolve(screen, utc_now()) is not None

    cli_side.revoke_token("kiosk-1", utc_now())
    now[0] += DEVICE_TOKEN_TTL / 2
    assert hub_side.resolve(kiosk, utc_now()) is not None  # still believed, within the TTL
    now[0] += DEVICE_TOKEN_TTL
    assert hub_side.resolve(kiosk, utc_now()) is None  # asked again: revoked

    hub_side.revoke_token("lobby", utc_now())
    assert hub_side.resolve(screen, utc_now()) is None  # revoked here: forgotten at once
    assert hub_side.resolve("qd_never-issued", utc_now()) is None
    store.engine.dispose()
