"""Draw a sample ticket of the utility-hall site as it comes out of a 58 mm and an 80 mm printer.

    .venv/bin/python scripts/ticket-preview.py OUTDIR

writes ``OUTDIR/ticket-58mm.png`` (384 dots wide) and ``OUTDIR/ticket-80mm.png``
(576 dots wide) with :func:`drivers.printing.layout.render_png`, the same layout
the printers get. The README's previews in ``docs/`` are made with
``scripts/ticket-preview.py docs``. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from drivers.printing.layout import LayoutOptions, render_png  # noqa: E402
from drivers.printing.ticket import PrintTicket  # noqa: E402
from server.config import load_config  # noqa: E402

SAMPLE = ROOT / "config" / "samples" / "utility_hall.toml"


def sample_ticket() -> PrintTicket:
    """Ticket A012 for the first service of the utility hall, with its printer's footer."""
    config = load_config(SAMPLE)
    service = config.services[0]
    printer = next(d.name for d in config.devices if d.kind == "printer")
    settings = config.printer_settings(printer)
    return PrintTicket(
        ticket_id="preview",
        number=f"{service.prefix}{12:0{service.width}d}",
        site_name_zh=config.site.name_zh,
        site_name_en=config.site.name_en,
        service_name_zh=service.name_zh,
        service_name_en=service.name_en,
        waiting_ahead=3,
        estimated_wait_minutes=8,
        issued_at="2026-11-25 09:05",
        status_url="http://192.168.1.10:5000/t/Vw7eAsw6e6RN",
        footer_zh=settings.footer_zh,
        footer_en=settings.footer_en,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="folder for ticket-58mm.png and ticket-80mm.png")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    ticket = sample_ticket()
    for paper_mm in (58, 80):
        image = render_png(ticket, LayoutOptions(paper_mm=paper_mm))
        path = args.outdir / f"ticket-{paper_mm}mm.png"
        image.save(path, format="PNG", optimize=True)
        print(f"{path} ({image.width}×{image.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
