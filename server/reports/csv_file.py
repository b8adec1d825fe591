"""The report as CSV: UTF-8 with a byte-order mark, one header row in both languages, every section's rows.

Excel takes a CSV without a BOM for the machine's ANSI code page and shows
Chinese as mojibake; with the BOM it reads UTF-8. ``TRUE``/``FALSE`` are what
Excel reads as booleans; a figure that does not apply (no ratings, tickets
issued by counter) is an empty cell, never 0.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .table import Cell, layout

BOM = "\ufeff"


def cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def write_csv(report: dict[str, Any]) -> bytes:
    table = layout(report)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header)
    for row in table.rows():
        writer.writerow([cell_text(value) for value in row])
    return out.getvalue().encode("utf-8")
