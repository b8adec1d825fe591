"""scripts/demo installs what the demo runs on (espeak-ng), never Chromium; scripts/test all of it.

scripts/system-deps.sh runs here with a PATH of stand-ins (``id``, ``apt-get``,
``sudo``) and without espeak-ng, so nothing is installed for real.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_DEPS = ROOT / "scripts" / "system-deps.sh"


def fake_path(tmp_path: Path, uid: int, sudo: bool) -> Path:
    """A bin dir: ``id -u`` says ``uid``, apt-get (and sudo) log their arguments, no espeak-ng."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    stubs = {
        "id": f"#!/bin/sh\necho {uid}\n",
        "apt-get": f'#!/bin/sh\necho "apt-get $*" >> {log}\n',
        "ldconfig": "#!/bin/sh\nexit 0\n",
    }
    if sudo:
        stubs["sudo"] = (
            '#!/bin/sh\n[ "$1" = -n ] && shift && [ "$1" = true ] && exit 0\n'
            f'echo "sudo $1" >> {log}\nexec "$@"\n'
        )
    for name, text in stubs.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    for tool in ("env", "bash", "sh"):
        os.symlink(
            f"/usr/bin/{tool}" if Path(f"/usr/bin/{tool}").exists() else f"/bin/{tool}", bin_dir / tool
        )
    return bin_dir


def run(tmp_path: Path, mode: str, uid: int, sudo: bool) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = fake_path(tmp_path, uid, sudo)
    done = subprocess.run(
        ["/bin/bash", str(SYSTEM_DEPS), mode],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    log = tmp_path / "calls.log"
    return done, log.read_text() if log.exists() else ""


def test_demo_as_root_installs_espeak_ng_and_not_chromium(tmp_path: Path) -> None:
    done, calls = run(tmp_path, "demo", uid=0, sudo=False)
    assert done.returncode == 0, done.stderr
    install = [line for line in calls.splitlines() if " install " in line]
    assert len(install) == 1 and "espeak-ng" in install[0], calls
    assert "chromium" not in calls and "socat" not in calls


def test_demo_with_sudo_installs_through_sudo(tmp_path: Path) -> None:
    done, calls = run(tmp_path, "demo", uid=1000, sudo=True)
    assert done.returncode == 0, done.stderr
    assert "sudo apt-get" in calls and "espeak-ng" in calls and "chromium" not in calls, calls


def test_demo_without_root_or_sudo_says_how_in_one_line(tmp_path: Path) -> None:
    done, calls = run(tmp_path, "demo", uid=1000, sudo=False)
    assert done.returncode == 0
    assert calls == ""
    (line,) = done.stderr.strip().splitlines()
    assert "espeak-ng" in line and "apt-get install" in line and "chromium" not in line, line


def test_tests_still_get_chromium(tmp_path: Path) -> None:
    done, calls = run(tmp_path, "test", uid=0, sudo=False)
    assert done.returncode == 0, done.stderr
    assert "chromium" in calls and "espeak-ng" in calls, calls


def test_scripts_demo_installs_before_it_starts_and_never_chromium() -> None:
    text = (ROOT / "scripts" / "demo").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    deps = lines.index("scripts/system-deps.sh demo")
    start = next(i for i, line in enumerate(lines) if line.startswith("exec ") and "server demo" in line)
    assert deps < start
    assert "chromium" not in "\n".join(lines).lower()
    assert (ROOT / "scripts" / "test").read_text().count("scripts/system-deps.sh\n") == 1
