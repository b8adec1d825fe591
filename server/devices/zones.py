"""Voice zones: which parts of the hall hear a counter's calls, and which zone a screen or speaker is in.

A hall on two floors, or a hospital with clinics in separate wings, must not
hear the other wing's calls. ``[[zones]]`` in the site file names the counters
of each zone; a lobby screen or a speaker joins one by ``settings.zone`` (absent:
the whole hall). These are read from the site config as it is *now* (the
hub's ``config``, which the admin page may change live), never kept.
"""

from __future__ import annotations

from ..config import DeviceSection, SiteConfig


def zones_of_counter(config: SiteConfig, counter: int) -> tuple[str, ...]:
    """The codes of the zones that hear counter ``counter``'s calls, in the file's order (maybe none)."""
    return tuple(zone.code for zone in config.zones if counter in zone.counters)


def zone_codes(config: SiteConfig) -> frozenset[str]:
    return frozenset(zone.code for zone in config.zones)


def screen_zone(config: SiteConfig, name: str) -> str | None:
    """The zone of lobby screen ``name`` (its device token's name); None: the whole hall.

    A token whose name no lobby screen has (a kiosk, an unlisted screen) hears the whole hall,
    as every screen did before zones. A zone the site no longer has is the whole hall too.
    """
    device = next((d for d in config.devices if d.name == name and d.kind == "lobby_screen"), None)
    return _zone(config, device)


def zone_speaker(config: SiteConfig, zone: str) -> DeviceSection | None:
    """The speaker device of zone ``zone`` (config.py allows one per zone), if it has one."""
    return next(
        (d for d in config.devices if d.kind == "speaker" and d.settings.get("zone") == zone),
        None,
    )


def _zone(config: SiteConfig, device: DeviceSection | None) -> str | None:
    zone = device.settings.get("zone") if device is not None else None
    return zone if isinstance(zone, str) and zone in zone_codes(config) else None
