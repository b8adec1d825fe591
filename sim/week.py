"""A simulated week of a sample hall: seven days one after another on one hub (sim/day.py).

    .venv/bin/python -m sim.week --site bank_branch [--seed 7] [--scale 1.0]

The same simulator as ``sim.day`` with ``days=7`` (days the hall is closed are
skipped). Prints one JSON object: the day's figures over the week, with
``estimate``: the mean absolute error of the estimate given at issue against the
real wait (issue → first call), the same for the old rule of five minutes a
person ahead on the same tickets, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sys

from sim.day import SAMPLES, simulated_day

DAYS = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", required=True, choices=sorted(p.stem for p in SAMPLES.glob("*.toml")))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="share of a full day's visitors")
    args = parser.parse_args()
    with simulated_day(args.site, args.seed, args.scale, DAYS) as week:
        figures = week.run()
    figures["simulation"] = "hall_week"
    print(json.dumps(figures, ensure_ascii=False))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
