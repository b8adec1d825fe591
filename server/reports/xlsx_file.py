"""The report as an Excel workbook (openpyxl): one sheet per section, the CSV's header and numbers.

Numbers stay numbers (a share is 0.7143 shown as a percentage, seconds are
integers), so a manager can sum and chart them in Excel; booleans are Excel's
own. Written in memory with openpyxl's write-only mode: no temporary file.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from .table import layout

#: The columns shown as a percentage (the value stays the share, 0–1).
PERCENT = ("share",)


def write_xlsx(report: dict[str, Any]) -> bytes:
    table = layout(report)
    names = [c.name for c in table.columns]
    percent = {names.index(name) for name in PERCENT}
    book = Workbook(write_only=True)
    hall, period = report["hall"], report["period"]
    book.properties.title = f"{hall['name_zh']} {period['label']}"
    book.properties.creator = "qcall"
    for section, rows in table.sections:
        sheet: Worksheet = book.create_sheet(f"{section.zh} {section.en}")
        sheet.freeze_panes = "C2"
        header = []
        for text in table.header:
            cell = WriteOnlyCell(sheet, value=text)
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        for row in rows:
            cells = []
            for i, value in enumerate(row):
                cell = WriteOnlyCell(sheet, value=value)
                if i in percent and value is not None:
                    cell.number_format = "0.0%"
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
