#!/usr/bin/env bash
# Make .venv with Python 3.11+ and install the pinned requirements.
# Usage: scripts/setup.sh [requirements file]   (default: requirements.txt)
# Re-running is cheap: pip runs only when the requirements changed.
set -euo pipefail
cd "$(dirname "$0")/.."
reqs="${1:-requirements.txt}"

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "qcall needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(find_python)
  if ! "$py" -m venv .venv 2>/dev/null; then
    echo "python venv is missing; on Debian/Ubuntu: apt-get install python3-venv" >&2
    exit 1
  fi
fi

stamp=".venv/.installed-$(basename "$reqs")"
digest=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$reqs"
  echo "$digest" > "$stamp"
fi
