"""The hall's settings over REST: ``/api/v1/admin/settings`` (admins and supervisors read, admins save).

A save sends the whole new section and the version it was based on: two
managers editing at once cannot overwrite each other (409 ``stale_version``).
A section the site's rules refuse is 422 ``invalid_settings`` with every
problem's field (``services[2].code``) and what was expected, in Chinese and in
English (``error_zh``, ``error_en``, beside the English ``message``); taking away a
service or counter today's queue still needs is 409 ``in_use``. Nothing is
half-saved: the section and its audit row (before → after) are one
transaction, and the hub applies the new config only after it committed.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, Response, jsonify
from pydantic import Field

from ..settings import EDITABLE, InvalidSettings, SettingInUse, UnknownSection, apply
from ..store.settings import StaleVersion
from .auth import current_actor, current_principal, hub, requires
from .refusals import ApiError, error_response, role_zh
from .routes import _Body, parse

settings_api = Blueprint("settings", __name__, url_prefix="/api/v1/admin/settings")

#: Who may read the settings; only admins save them.
READERS = ("admin", "supervisor")


class SectionBody(_Body):
    #: The whole new section: a list of objects (services, counters, priority) or an object (hours).
    value: Any
    #: The version the change was based on (``GET`` gave it; 0: the file's, never saved).
    version: Annotated[int, Field(ge=0)]


@settings_api.before_request
def _readers_only() -> None:
    """401 without a good token; 403 for any role but admin and supervisor, on every route here."""
    principal = current_principal()
    if principal.role not in READERS:
        raise ApiError(
            403, f"the role {principal.role!r} may not do this", zh=f"{role_zh(principal.role)}无权进行此操作"
        )


@settings_api.errorhandler(UnknownSection)
def _unknown(exc: UnknownSection) -> tuple[Response, int]:
    return error_response(404, str(exc), "not_found", f"没有这一设置项，可选：{'、'.join(EDITABLE)}")


@settings_api.errorhandler(InvalidSettings)
def _invalid(exc: InvalidSettings) -> tuple[Response, int]:
    # Both languages, as every refusal a manager reads: the whole refusal, and each problem on its field.
    problems = [p.public() for p in exc.problems]
    return error_response(
        422, str(exc), "invalid_settings", exc.message_zh, error_en=exc.message_en, problems=problems
    )


@settings_api.errorhandler(StaleVersion)
def _stale(exc: StaleVersion) -> tuple[Response, int]:
    zh = (
        f"设置已被他人修改（当前为第 {exc.current} 版，您的修改基于第 {exc.based_on} 版），请重新载入后再修改"
    )
    return error_response(409, str(exc), "stale_version", zh, current_version=exc.current)


@settings_api.errorhandler(SettingInUse)
def _in_use(exc: SettingInUse) -> tuple[Response, int]:
    return error_response(409, str(exc), "in_use", exc.message_zh, error_en=exc.message_en, field=exc.field)


@settings_api.get("")
@requires(*READERS)
def all_sections() -> Response:
    """Every editable section with its value and version (0: the file's)."""
    the_hub = hub()
    views = the_hub.settings.views(the_hub.config)
    return jsonify(sections={name: _without_name(views[name].public()) for name in EDITABLE})


@settings_api.get("/<name>")
@requires(*READERS)
def one_section(name: str) -> Response:
    the_hub = hub()
    return jsonify(the_hub.settings.view(name, the_hub.config).public())


@settings_api.put("/<name>")
@requires("admin")
def save_section(name: str) -> Response:
    """Replace one section (admins only): checked whole, refused if stale or still needed, then live."""
    the_hub = hub()
    if name not in EDITABLE:
        raise UnknownSection(name)
    body = parse(SectionBody)
    with the_hub.settings.lock:
        now = the_hub.clock()
        day = the_hub.core.hall.calendar.business_day(now)
        config, saved = the_hub.settings.save(
            the_hub.config, {name: body.value}, current_actor(), now, day, {name: body.version}
        )
        apply(the_hub, config, saved)
    return jsonify(the_hub.settings.view(name, the_hub.config).public())


def _without_name(view: dict[str, Any]) -> dict[str, Any]:
    view.pop("section")
    return view
