"""Where the hub writes: one ``QCALL_VAR_DIR``, read here and nowhere else.

Everything the hub or the demo writes (the default database, the secret key,
the virtual printers' images, the voice cache, the demo's ptys) lives under
:func:`var_dir`, so pointing ``QCALL_VAR_DIR`` elsewhere keeps a checkout
clean; a second reader of the variable would be the one place that forgets.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository's root: where the sample configs and the page folders are read from.
ROOT = Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    """The hub's own folder for local files: ``$QCALL_VAR_DIR``, else ``var`` in the working directory."""
    return Path(os.environ.get("QCALL_VAR_DIR") or "var")


def repo_path(relative: str) -> Path:
    """A file shipped with qcall (a sample config), wherever the hub was started from."""
    return ROOT / relative
