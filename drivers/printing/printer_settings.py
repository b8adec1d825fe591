"""A printer's settings, one model per connector: the one place a printer key is defined.

The hub's site file (``[[devices]] kind = "printer"``) and the device agent's
``agent.toml`` (``[[printers]]``) both validate a printer's table here: the
hub's model adds its own keys (``agent``, the footers) by extending these
classes; the agent refuses the hub's keys. So ``parity`` or ``logo`` is either
right in both files or wrong in both, with the same one-line message.

    settings = parse_printer_settings({"connector": "serial", "port": "/dev/ttyUSB0", "parity": "E"})
    settings.layout()        # LayoutOptions: how its tickets look
    open_printer(settings)   # drivers.printing.connectors: an open printer with its link
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_core import ErrorDetails

from drivers.validation import first_problem, positive_number, whole_number

from .layout_options import LAYOUT_KEYS, LayoutKeys, LayoutOptions

#: The longest a printer may take to answer or take a write, in seconds.
MAX_TIMEOUT = 60.0


def _device_path(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a serial printer's port is a device path such as '/dev/ttyUSB0', got {value!r}")
    return value


Timeout = Annotated[float, positive_number(MAX_TIMEOUT)]
Text = Annotated[str, Field(min_length=1)]


class BasePrinterSettings(LayoutKeys):
    """What every printer has: its connector, the layout keys, a python-escpos profile."""

    connector: str
    #: A python-escpos capability profile name (``"TM-T88V"``); None: its default profile.
    profile: str | None = None

    def layout(self) -> LayoutOptions:
        """How this printer's tickets look."""
        return LayoutOptions.model_validate(self.model_dump(include=set(LAYOUT_KEYS)))

    def layout_given(self) -> dict[str, Any]:
        """Only the layout keys written in the file (the agent's win over the hub's options)."""
        return self.model_dump(include=set(LAYOUT_KEYS) & self.model_fields_set)

    def connection(self) -> dict[str, Any]:
        """The connection keys (defaults filled in), without layout keys or a caller's own keys."""
        own = set(PRINTER_SETTINGS[self.connector].model_fields) - set(LAYOUT_KEYS)
        return self.model_dump(include=own)

    def where(self) -> str:
        """Where the printer is, for the log and for the admin page."""
        return self.connector

    def with_folder(self, folder: Path) -> Self:
        """A copy whose ``logo`` is an absolute path (relative ones start at ``folder``), checked.

        Checked at start, not at the first ticket: a logo that cannot be read
        would make every ticket of the day fail to lay out.
        """
        if self.logo is None:
            return self
        path = Path(self.logo).expanduser()
        if not path.is_absolute():
            path = folder / path
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                image.verify()
        except (OSError, UnidentifiedImageError, SyntaxError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"logo: cannot read the image {str(path)!r}: {why}") from None
        return self.model_copy(update={"logo": str(path)})


class NetworkPrinterSettings(BasePrinterSettings):
    """Raw TCP, the printer's port 9100 (LAN printers, Ethernet print servers)."""

    connector: Literal["network"]
    host: Text
    port: Annotated[int, whole_number(1, 65535)] = 9100
    timeout: Timeout = 5.0

    def where(self) -> str:
        return f"network {self.host}:{self.port}"


class SerialPrinterSettings(BasePrinterSettings):
    """An RS-232 printer, or one behind a USB-serial adapter."""

    connector: Literal["serial"]
    port: Annotated[str, BeforeValidator(_device_path)]
    baudrate: Annotated[int, whole_number(50, 4_000_000)] = 9600
    bytesize: Annotated[int, whole_number(5, 8)] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Annotated[int, whole_number(1, 2)] = 1
    timeout: Timeout = 5.0
    xonxoff: bool = False
    dsrdtr: bool = False

    def where(self) -> str:
        return f"serial {self.port}"


class UsbPrinterSettings(BasePrinterSettings):
    """A USB printer driven through libusb (pyusb); ids may be written ``0x0416`` or ``"0x0416"``."""

    connector: Literal["usb"]
    vendor_id: Annotated[int, whole_number(0, 0xFFFF)]
    product_id: Annotated[int, whole_number(0, 0xFFFF)]
    #: The bulk IN endpoint the status answers come back on; None: the printer cannot answer.
    in_ep: Annotated[int, whole_number(0, 0xFF)] | None = 0x82
    out_ep: Annotated[int, whole_number(0, 0xFF)] = 0x01
    timeout: Timeout = 5.0
    #: False: never ask the printer's status (some USB printers answer garbage).
    status: bool = True

    def where(self) -> str:
        return f"usb {self.vendor_id:04x}:{self.product_id:04x}"


class FilePrinterSettings(BasePrinterSettings):
    """A file or device file (``/dev/usb/lp0``): bytes go out, no status comes back."""

    connector: Literal["file"]
    path: Text
    #: Accepted for the sake of one key set across connectors; a file never waits.
    timeout: Timeout = 5.0

    def where(self) -> str:
        return f"file {self.path}"


class VirtualPrinterSettings(BasePrinterSettings):
    """A printer twin (drivers.twins.virtual_printer) started on 127.0.0.1: no hardware needed."""

    connector: Literal["virtual"]
    #: The twin's TCP port; 0: any free port.
    port: Annotated[int, whole_number(0, 65535)] = 0

    def where(self) -> str:
        return "virtual printer"

    def network(self, port: int) -> NetworkPrinterSettings:
        """The settings that reach the twin once it listens on ``port`` (layout kept)."""
        return NetworkPrinterSettings(connector="network", host="127.0.0.1", port=port, **self.layout_given())


#: Every connector's model. ``open_printer`` opens all but ``virtual`` (a twin must be started first).
PRINTER_SETTINGS: dict[str, type[BasePrinterSettings]] = {
    "network": NetworkPrinterSettings,
    "serial": SerialPrinterSettings,
    "usb": UsbPrinterSettings,
    "file": FilePrinterSettings,
    "virtual": VirtualPrinterSettings,
}

PrinterSettings = (
    NetworkPrinterSettings
    | SerialPrinterSettings
    | UsbPrinterSettings
    | FilePrinterSettings
    | VirtualPrinterSettings
)

P = TypeVar("P", bound=BasePrinterSettings)


def parse_printer_settings(data: Mapping[str, Any], models: Mapping[str, type[P]] | None = None) -> P:
    """The model of ``data["connector"]`` from ``models`` (default: :data:`PRINTER_SETTINGS`), validated.

    Raises ``ValueError("key: what is wrong")``, one line. A caller that adds
    keys of its own (the hub: ``agent``, footers) passes its subclasses as ``models``.
    """
    table: Mapping[str, type[Any]] = PRINTER_SETTINGS if models is None else models
    if not isinstance(data, Mapping):
        raise ValueError(f"printer settings: a table of keys, got {type(data).__name__}")
    connector = data.get("connector")
    if connector is None:
        raise ValueError(f"connector: missing; one of {', '.join(table)}")
    model = table.get(connector) if isinstance(connector, str) else None
    if model is None:
        raise ValueError(f"connector: unknown connector {connector!r}; one of {', '.join(table)}")

    def describe(error: ErrorDetails, key: str) -> str | None:
        if error["type"] == "missing":
            return f"{key}: a {connector} printer needs {key!r}"
        if error["type"] == "extra_forbidden":
            return f"{key}: not a setting of a {connector} printer"
        return None

    try:
        settings: P = model.model_validate(dict(data))
    except ValidationError as exc:
        raise ValueError(first_problem(exc, describe)) from None
    return settings
