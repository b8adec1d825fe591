"""The report as a PDF (reportlab): A4 landscape, title, period, hall, a chart, a table per section.

Chinese is set in reportlab's built-in CID font ``STSong-Light`` (Adobe's
Asian font pack, which every PDF reader has): no font file ships with the hub
and none is embedded. Numbers and English are Helvetica, so a reader's search
and a text extraction find them as written. The chart (tickets issued and
served per hour of the day, or per day of the month) is drawn with
reportlab.graphics, vector, in the same file.

The tables show the figures a manager reads on paper (counts, p50/p90, share
satisfied); the CSV and the workbook have every column. Every word on paper is in
both languages: the totals line under the title (Chinese, then English) and a
yes/no cell (达标: 是 yes / 否 no). The CSV keeps TRUE/FALSE and the workbook
Excel's own booleans: what a machine and Excel's filters read.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .table import Cell, layout

CJK = "STSong-Light"
LATIN = "Helvetica"
#: The columns on paper, by name (the leading key and names, then these figures).
ON_PAPER = (
    "issued",
    "served",
    "no_show",
    "cancelled",
    "transferred",
    "transferred_in",
    "wait_p50",
    "wait_p90",
    "service_p50",
    "service_p90",
    "ratings",
    "share",
    "target_met",
)
KIND_TITLES = {"daily": ("日报表", "Daily report"), "monthly": ("月报表", "Monthly report")}
ISSUED_COLOUR, SERVED_COLOUR = colors.HexColor("#1f4e9c"), colors.HexColor("#2e8b57")

_registered = False


def _fonts() -> None:
    """Register the CID font once per process (reportlab keeps a global registry)."""
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK))
        _registered = True


def _style(size: float, leading: float | None = None, bold: bool = False) -> ParagraphStyle:
    font = "Helvetica-Bold" if bold else LATIN
    return ParagraphStyle(f"s{size}{bold}", fontName=font, fontSize=size, leading=leading or size * 1.25)


def _both(zh: str, en: str, size: float = 7, bold: bool = False) -> Paragraph:
    """Chinese above English in one cell (reportlab's mini-markup; the text is the hub's, escaped)."""
    return Paragraph(f'<font name="{CJK}">{_escape(zh)}</font><br/>{_escape(en)}', _style(size, bold=bold))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(name: str, value: Cell) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):  # a table's yes/no is _table_cell's, in both languages and fonts
        return YES_NO[value][1]
    if name == "share" and isinstance(value, float):
        return f"{value * 100:.1f}%"
    return str(value)


def _series(report: dict[str, Any]) -> tuple[list[str], list[int], list[int]]:
    """Labels and the issued and served counts per hour (the day's hours with tickets, gaps filled) or
    per day of the month (every day)."""
    period = report["period"]
    by = "hour" if period["kind"] == "daily" else "day"
    groups = {g["key"]: g for g in report["sections"][by]}
    if by == "hour":
        hours = [int(k) for k in groups] or [9, 17]
        keys: Sequence[Any] = range(min(hours), max(hours) + 1)
        labels = [f"{h:02d}" for h in keys]
    else:
        first, last = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
        keys = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        labels = [k[8:] for k in keys]
    issued = [int(groups[k]["tickets"]["issued"] or 0) if k in groups else 0 for k in keys]
    served = [int(groups[k]["tickets"]["served"]) if k in groups else 0 for k in keys]
    return labels, issued, served


def _chart(report: dict[str, Any], width: float) -> Drawing:
    labels, issued, served = _series(report)
    drawing = Drawing(width, 62 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 12 * mm, 10 * mm, width - 50 * mm, 46 * mm
    chart.data = [issued, served]
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.fontName = LATIN
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = LATIN
    chart.valueAxis.labels.fontSize = 6
    chart.bars[0].fillColor = ISSUED_COLOUR
    chart.bars[1].fillColor = SERVED_COLOUR
    chart.barSpacing = 0.5
    chart.groupSpacing = 3
    legend = Legend()
    legend.x, legend.y = width - 34 * mm, 50 * mm
    legend.fontName = CJK
    legend.fontSize = 7
    legend.colorNamePairs = [(ISSUED_COLOUR, "取号 Issued"), (SERVED_COLOUR, "办结 Served")]
    drawing.add(chart)
    drawing.add(legend)
    return drawing


#: Whether the satisfaction target was met, in both languages (None: no ratings to judge).
MET_WORDS = {True: ("达标", "met"), False: ("未达标", "not met"), None: ("无评价", "no ratings")}
#: A yes/no cell (达标) on paper: both languages, as every other word of the report.
YES_NO = {True: ("是", "yes"), False: ("否", "no")}


def _totals_lines(report: dict[str, Any]) -> tuple[str, str]:
    """The hall's totals in one line each in Chinese and English (what a search of the PDF finds)."""
    total = report["total"]
    t, w, s, r = total["tickets"], total["waiting"], total["service_time"], total["satisfaction"]
    share = "–" if r["share"] is None else f"{r['share'] * 100:.1f}%"
    met_zh, met_en = MET_WORDS[r["target_met"]]
    target = report["satisfaction"]["target"]
    waits = f"{_cell('', w['p50'])}/{_cell('', w['p90'])}"
    services = f"{_cell('', s['p50'])}/{_cell('', s['p90'])}"
    zh = (
        f"取号 {t['issued']} · 办结 {t['served']} · 过号 {t['no_show']} · 取消 {t['cancelled']}"
        f" · 转出 {t['transferred']} · 等候 P50/P90 {waits} 秒 · 办理 P50/P90 {services} 秒"
        f" · 满意率 {share}（{r['satisfied']}/{r['ratings']}；目标 {target}%：{met_zh}）"
    )
    en = (
        f"Issued {t['issued']} · Served {t['served']} · No-show {t['no_show']} · Cancelled {t['cancelled']}"
        f" · Transferred {t['transferred']} · Wait p50/p90 {waits} s · Service p50/p90 {services} s"
        f" · Satisfied {share} ({r['satisfied']}/{r['ratings']}; target {target}%: {met_en})"
    )
    return zh, en


def _table_cell(name: str, value: Cell) -> Paragraph | str:
    """A table's cell: a Chinese name and a yes/no in the CJK font (是 yes / 否 no), the rest as text."""
    if name == "name_zh" and value is not None:
        return Paragraph(f'<font name="{CJK}">{_escape(str(value))}</font>', _style(6.5))
    if isinstance(value, bool):
        zh, en = YES_NO[value]
        return Paragraph(f'<font name="{CJK}">{zh}</font> {en}', _style(6.5))
    return _cell(name, value)


def write_pdf(report: dict[str, Any]) -> bytes:
    _fonts()
    table = layout(report)
    names = [c.name for c in table.columns]
    shown = [names.index(n) for n in ("key", "name_zh", "name_en")] + [names.index(n) for n in ON_PAPER]
    hall, period = report["hall"], report["period"]
    kind_zh, kind_en = KIND_TITLES[period["kind"]]
    out = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"{hall['name_en']} {kind_en} {period['label']}",
        author="qcall",
    )
    width = page[0] - 24 * mm
    story: list[Any] = [
        _both(f"{hall['name_zh']} · {kind_zh}", f"{hall['name_en']} · {kind_en}", 14, bold=True),
        Spacer(1, 2 * mm),
        Paragraph(
            f'<font name="{CJK}">期间</font> Period: {period["from"]} – {period["to"]} ({hall["timezone"]})',
            _style(9),
        ),
        Spacer(1, 2 * mm),
        _both(*_totals_lines(report), 8),
        Spacer(1, 3 * mm),
        _chart(report, width),
    ]
    header = [_both(table.columns[i].zh, table.columns[i].en, 6) for i in shown]
    for section, rows in table.sections:
        if not rows:
            continue
        cells = [header] + [[_table_cell(names[i], row[i]) for i in shown] for row in rows]
        grid = Table(cells, repeatRows=1, hAlign="LEFT")
        grid.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 1), (-1, -1), LATIN, 6.5),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef8")),
                    ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ]
            )
        )
        title = _both(section.zh, section.en, 10, bold=True)
        story += [Spacer(1, 4 * mm), KeepTogether([title, Spacer(1, 1 * mm), grid])]
    doc.build(story)
    return out.getvalue()
