"""How a ticket looks (paper width, Chinese text, QR code, number size, logo), apart from how it is drawn.

The site file's printer settings, the agent's file and a ``print_job``
message all carry these keys; reading them needs pydantic only. Drawing a
ticket (:mod:`.layout`) needs python-escpos, Pillow and qrcode, which a hub
without printers of its own never loads (about 12 MB of its memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from drivers.validation import DriverSettings, first_problem

#: Dots per line at 203 dpi, by paper width in millimetres.
PAPER_DOTS = {58: 384, 80: 576}

#: The keys of :class:`LayoutOptions`: how a ticket looks, as opposed to how the printer is reached.
LAYOUT_KEYS = ("paper_mm", "chinese", "qr", "number_size", "logo")


class LayoutKeys(DriverSettings):
    """The layout keys of a printer's settings, declared once.

    :class:`LayoutOptions` and every printer settings model
    (:mod:`.printer_settings`) inherit these fields, so the hub's site file, the
    agent's file and a ``print_job`` message accept exactly the same values.
    """

    paper_mm: Literal[58, 80] = 80
    chinese: Literal["gb18030", "raster"] = "gb18030"  # or "raster": text drawn into an image
    qr: Literal["native", "raster"] = "native"  # or "raster"
    #: ``GS !`` multiplier of the number; None: 4 on 80 mm, 3 on 58 mm.
    number_size: Annotated[int, Field(ge=1, le=8)] | None = None
    #: An image file printed at the top (black and white, shrunk to the paper's width).
    logo: Annotated[str, Field(min_length=1)] | None = None


class LayoutOptions(LayoutKeys):
    """How a printer's tickets look (from the printer's settings, or a ``print_job`` message)."""

    @property
    def dots(self) -> int:
        """Dots per printed line: 384 on 58 mm paper, 576 on 80 mm."""
        return PAPER_DOTS[self.paper_mm]

    @property
    def number_multiplier(self) -> int:
        return self.number_size or (4 if self.paper_mm == 80 else 3)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the ``options`` of a ``print_job`` message)."""
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayoutOptions:
        """The inverse of :meth:`to_dict`; a ``ValueError`` of one line naming the key when wrong."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"LayoutOptions: {first_problem(exc)}") from None


# -- the layout as blocks -----------------------------------------------------
