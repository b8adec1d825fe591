"""Pairing a kiosk or screen by a code: the screen's two routes and the admin's two.

``POST /pairing`` (no login: the screen has no token yet) starts a code;
``POST /pairing/<code>/collect`` is the screen's poll, with the claim it was
given; the admin's ``GET``/``POST /admin/pairing/<code>`` (admin only, audited
``token.pair``) shows the configured devices of the code's kind and confirms
one. The desk itself (``server/devices/pairing.py``) keeps the codes in the hub's
database (any process of a cluster answers for any code); it is kept in
``app.extensions["qcall_pairing"]``.
"""

from __future__ import annotations

import base64
import io
from typing import Annotated
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import Field

from ..devices.pairing import PAIRING_ROLES, Pairing, PairingDesk, PairingRefused, already_paired
from ..screens import kind_names
from ..store.accounts import AccountConflict, AccountError, TokenExists, TokenInfo
from .auth import client_address, current_actor, current_principal, drop_sockets, hub
from .refusals import ApiError, error_response, role_zh
from .routes import _Body, account_zh, parse

pairing_api = Blueprint("pairing", __name__, url_prefix="/api/v1")

#: Where the admin's phone confirms a code (the QR the waiting screen shows).
PAIR_PAGE = "/counter/pair.html"


class StartBody(_Body):
    kind: Annotated[str, Field(min_length=1, max_length=32)]


class CollectBody(_Body):
    claim: Annotated[str, Field(min_length=1, max_length=128)]


class ConfirmBody(_Body):
    name: Annotated[str, Field(min_length=1, max_length=64)]


def desk() -> PairingDesk:
    """This app's pairing desk, on the hub's database (made on first use; a test may set its own)."""
    found: PairingDesk | None = current_app.extensions.get("qcall_pairing")
    if found is None:
        found = current_app.extensions.setdefault("qcall_pairing", PairingDesk(hub().limits))
    return found


@pairing_api.errorhandler(PairingRefused)
def _refused(exc: PairingRefused) -> tuple[Response, int]:
    # The hub's own words, in both languages, for the admin's page to place.
    return error_response(exc.status, exc.message, exc.code, exc.message_zh or None)


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG data URI (the CSP allows ``data:`` images; nothing inline runs)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def page_base() -> str:
    """The address a phone can open: the site's public URL, else the one this request came to."""
    configured = hub().config.site.public_url
    return (configured or request.host_url).rstrip("/")


def device_page(name: str, role: str, token: str) -> str | None:
    """The page a device opens with its new token (a QR for it to scan), or None (agents, booking)."""
    device = next((d for d in hub().config.devices if d.name == name), None)
    counter = device.counter if device else None
    query = urlencode({"token": token, **({"counter": counter} if counter else {})})
    if role == "kiosk":
        path = "/kiosk/"
    elif role == "pad":
        path = "/display/pad"
    elif role == "display":
        path = "/display/counter" if device and device.kind == "counter_screen" else "/display/lobby"
    else:
        return None
    return f"{page_base()}{path}?{query}"


def shown_once(name: str, role: str, token: str) -> dict[str, str | None]:
    """``url`` and ``qr`` for a token an admin has just made: the device scans or opens it."""
    url = device_page(name, role, token)
    return {"url": url, "qr": qr_data_uri(url) if url else None}


@pairing_api.post("/pairing")
def start() -> tuple[Response, int]:
    """A waiting screen asks for a code; the answer carries the claim it must keep to itself."""
    body = parse(StartBody)
    pairing, claim = desk().start(body.kind, client_address())
    url = f"{page_base()}{PAIR_PAGE}?code={pairing.code}"
    return (
        jsonify(
            code=pairing.code,
            claim=claim,
            kind=pairing.kind,
            expires_in=desk().seconds_left(pairing),
            url=url,
            qr=qr_data_uri(url),
        ),
        201,
    )


@pairing_api.post("/pairing/<code>/collect")
def collect(code: str) -> Response:
    """The screen's poll: ``waiting`` until an admin confirms, then its token (once)."""
    body = parse(CollectBody)
    pairing = desk().collect(code, body.claim)
    if pairing is None:
        return jsonify(state="waiting")
    return jsonify(state="paired", token=pairing.token, name=pairing.name, counter=pairing.counter)


def _admin() -> None:
    principal = current_principal()
    if principal.role != "admin":
        raise ApiError(
            403, f"the role {principal.role!r} may not do this", zh=f"{role_zh(principal.role)}无权进行此操作"
        )


def _choices(kind: str) -> list[dict[str, object]]:
    """The configured devices of this kind, read now (the site file as the hub holds it)."""
    return [{"name": d.name, "counter": d.counter} for d in hub().config.devices if d.kind == kind]


@pairing_api.get("/admin/pairing/<code>")
def show(code: str) -> Response:
    """What the admin confirms: the kind the screen asked as, and the devices it may become."""
    _admin()
    pairing = desk().waiting(code)
    return jsonify(
        code=pairing.code,
        kind=pairing.kind,
        role=pairing.role,
        expires_in=desk().seconds_left(pairing),
        devices=_choices(pairing.kind),
    )


@pairing_api.post("/admin/pairing/<code>")
def confirm(code: str) -> Response:
    """Give the waiting screen the token of a configured device (audited ``token.pair``).

    Re-pairing a device that has a live token rotates it: the old token is revoked and the new one
    issued in one transaction (audited ``token.revoke`` with ``replaced_by``, and ``token.pair``
    with ``replaces``), and the old token's sockets drop at once. An installer re-pairing a kiosk
    whose screen was wiped expects the kiosk to work, not a second live token of one name.
    """
    _admin()
    body = parse(ConfirmBody)
    the_hub = hub()
    actor = current_actor()
    replaced: list[TokenInfo] = []

    def make(pairing: Pairing) -> tuple[str, int | None]:
        device = next(
            (d for d in the_hub.config.devices if d.name == body.name and d.kind == pairing.kind), None
        )
        if device is None:
            message = f"'name': no configured {pairing.kind} is named {body.name!r}"
            zh = f"配置文件中没有名为 {body.name!r} 的{kind_names(pairing.kind)[0]}"
            raise PairingRefused(400, message, "bad_request", zh, message)
        try:
            issued = the_hub.accounts.issue_device_token(
                PAIRING_ROLES[pairing.kind],
                device.name,
                the_hub.clock(),
                actor,
                action="token.pair",
                detail={"code": pairing.code, "kind": pairing.kind},
                replace=True,
                digest=pairing.token_hash,  # the screen's token, derived from its claim at collection
            )
        except TokenExists as exc:  # this very code's token: an earlier confirmation made it
            made = exc.made
            if made.revoked_at is None and (made.name, made.role) == (
                device.name,
                PAIRING_ROLES[pairing.kind],
            ):
                # The same answer again (an admin who clicked once more after an error, a confirmation
                # that made the token but failed before the code was marked): done, the screen collects;
                # the admin is told which token it replaced, and that token's sockets drop now.
                detail = {"code": pairing.code, "kind": pairing.kind}
                replaced.extend(the_hub.accounts.pairing_finished(made, the_hub.clock(), actor, detail))
                return device.name, device.counter
            raise already_paired(made.name) from exc
        except AccountConflict as exc:  # another pairing of the same device committed first
            raise PairingRefused(409, str(exc), "conflict", account_zh(str(exc)), str(exc)) from exc
        except AccountError as exc:
            raise PairingRefused(400, str(exc), "bad_request", account_zh(str(exc)), str(exc)) from exc
        replaced.extend(issued.replaced)
        return device.name, device.counter

    pairing = desk().confirm(code, make)
    drop_sockets([t.key for t in replaced])
    return jsonify(
        code=pairing.code,
        name=pairing.name,
        kind=pairing.kind,
        role=pairing.role,
        replaces=replaced[0].id if replaced else None,
    )
