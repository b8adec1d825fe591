"""The notices' rules in plain Python: a draft checked into fields or refused naming the field, the states
by the clock, the display order and the next start or end the watch waits for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.core.notices import BadNotice, Notice, NoticeDraft, checked, in_order, next_change

NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
TABLE = {"columns": [{"zh": "档位", "en": "Tier"}, {"zh": "价格", "en": ""}], "rows": [["一", "0.5283"]]}


def draft(**fields: Any) -> NoticeDraft:
    return NoticeDraft(**{"kind": "notice", "title_zh": "公告", **fields})


def notice(id: int, start: timedelta, end: timedelta, position: int = 0, withdrawn: bool = False) -> Notice:
    fields = checked(
        draft(starts_at=(NOW + start).isoformat(), ends_at=(NOW + end).isoformat(), position=position),
        NOW,
        3,
        ZONE,
    )
    return Notice(
        id, fields, NOW, "boss", NOW, "boss", NOW if withdrawn else None, "boss" if withdrawn else None
    )


def test_defaults_trimmed_texts_and_hall_time() -> None:
    kept = checked(draft(title_zh="  停水  ", title_en=""), NOW, 3, ZONE)
    assert (kept.title_zh, kept.starts_at, kept.ends_at) == ("停水", NOW, NOW + timedelta(days=3))
    later = checked(draft(starts_at="2026-03-11T09:00", ends_at="2026-03-11T10:00+00:00"), NOW, 3, ZONE)
    assert later.starts_at == datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # no offset: Shanghai time
    assert later.ends_at == datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
    assert checked(draft(starts_at="2026-03-11T09:00"), NOW, 7, ZONE).ends_at == later.starts_at + timedelta(
        days=7
    )
    tariff = checked(draft(kind="tariff", tariff=TABLE), NOW, 3, ZONE).tariff
    assert tariff is not None and tariff.as_dict() == TABLE
    # A plain notice keeps no table nor power cut, whatever was sent with it.
    plain = checked(draft(tariff=TABLE, area_zh="城东", outage_from="2026-03-11T08:00"), NOW, 3, ZONE)
    assert plain.tariff is None and plain.outage_from is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title_zh": "", "title_en": "  "}, "title_zh"),
        ({"title_en": "x" * 121}, "title_en"),
        ({"body_zh": "长" * 501}, "body_zh"),
        ({"starts_at": "2026-03-10T10:00", "ends_at": "2026-03-10T09:59"}, "ends_at"),
        ({"ends_at": "2027-04-01T00:00"}, "ends_at"),  # more than 366 days
        ({"starts_at": "2026-13-01T00:00"}, "starts_at"),
        ({"position": -1}, "position"),
        ({"kind": "tariff"}, "tariff"),
        ({"kind": "tariff", "tariff": {"columns": [], "rows": [["a"]]}}, "tariff.columns"),
        ({"kind": "tariff", "tariff": {"columns": [{"zh": ""}], "rows": [["a"]]}}, "tariff.columns.0"),
        (
            {"kind": "tariff", "tariff": {"columns": [{"zh": "a", "x": "b"}], "rows": [["a"]]}},
            "tariff.columns.0",
        ),
        ({"kind": "tariff", "tariff": {**TABLE, "rows": []}}, "tariff.rows"),
        ({"kind": "tariff", "tariff": {**TABLE, "rows": [["a", "b"]] * 21}}, "tariff.rows"),
        ({"kind": "tariff", "tariff": {**TABLE, "rows": [["", " "]]}}, "tariff.rows.0"),
        ({"kind": "tariff", "tariff": {**TABLE, "rows": [["a", True]]}}, "tariff.rows.0.1"),
        ({"kind": "tariff", "tariff": {**TABLE, "rows": [["a", "b" * 41]]}}, "tariff.rows.0.1"),
        ({"kind": "outage", "area_zh": "城东", "outage_to": "2026-03-11T08:00"}, "outage_from"),
    ],
)
def test_a_bad_draft_names_its_field_in_both_languages(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(BadNotice) as refused:
        checked(draft(**fields), NOW, 3, ZONE)
    assert refused.value.field == field
    assert refused.value.message_zh and refused.value.message_en and refused.value.code == "bad_notice"


def test_states_order_and_the_next_start_or_end() -> None:
    showing = notice(1, timedelta(0), timedelta(hours=2), position=1)
    first = notice(2, timedelta(minutes=-5), timedelta(hours=1))
    later = notice(3, timedelta(minutes=30), timedelta(hours=3))
    gone = notice(4, timedelta(minutes=-30), timedelta(minutes=10), withdrawn=True)
    assert [n.state(NOW) for n in (showing, later, gone)] == ["current", "scheduled", "withdrawn"]
    assert showing.state(NOW + timedelta(hours=2)) == "expired"  # the end is not included
    assert [n.id for n in in_order([showing, later, first])] == [3, 2, 1]  # position, then newest start
    assert next_change([showing, first, later, gone], NOW) == NOW + timedelta(minutes=30)
    assert next_change([showing, first, later, gone], NOW + timedelta(minutes=30)) == NOW + timedelta(hours=1)
    assert next_change([gone], NOW) is None
    assert "created_by" not in showing.public() and showing.as_dict(NOW)["created_by"] == "boss"
