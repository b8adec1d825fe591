"""The JavaScript unit tests (tests/js/, Node.js's own ``node --test``, no npm packages).

They cover server/static/qcall.js: escaping, the i18n fallback and error words,
and the redraw from the snapshot on a reconnect. Run alone with
``node --test tests/js/``; here the test command runs them too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JS_TESTS = ROOT / "tests" / "js"


def test_node_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Node.js is not installed: the tests in tests/js/ cannot run")
        pytest.skip("Node.js is not installed: the JavaScript unit tests in tests/js/ did not run")
    files = sorted(str(p.relative_to(ROOT)) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs in {JS_TESTS}"
    # Files by name: `node --test <dir>` means a directory on Node 20 but a glob pattern on 22.
    done = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    failed = [line for line in done.stdout.splitlines() if line.startswith("not ok")]
    assert done.returncode == 0, (
        "node --test failed:\n" + "\n".join(failed) + "\n" + done.stdout[-6000:] + done.stderr
    )
