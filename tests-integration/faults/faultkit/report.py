"""``hatch run faults:report``: run every fault scenario on every durable shim, print the table.

Usage::

    hatch run faults:report                   # all scenarios, both shims
    hatch run faults:report --shim jetstream  # one shim
    hatch run faults:report --only "consumer killed (prefetch 8)"

Each scenario starts its own private Redis and NATS servers on free loopback
ports (it needs ``redis-server`` and ``nats-server``) and prints one row:
objects sent (sends that returned), acknowledged, acknowledged twice,
redelivered, lost (sent and never acknowledged), left in the store when the
stream was consumed, maybe published (objects kept and sent again after a
publish that timed out), orphan events (delivered events whose object the
producer had evicted after a publish it saw fail), failed sends (each retried),
store errors (each delivery given back), evictions retried (failed after an
acknowledgement, tried again later) and evictions failed (objects still left
when the consumer closed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence

from faultkit.backends import SHIMS
from faultkit.scenarios import SCENARIOS, Outcome, run_scenario

COLUMNS = (
    ("Scenario", "scenario"),
    ("Shim", "shim"),
    ("Sent", "sent"),
    ("Acknowledged", "acknowledged"),
    ("Acked twice", "acked_twice"),
    ("Redelivered", "redelivered"),
    ("Lost", "lost"),
    ("Maybe published", "maybe_published"),
    ("After the end", "after_end"),
    ("Left in store", "left_in_store"),
    ("Orphan events", "missing"),
    ("Send failures", "send_failures"),
    ("Store errors", "store_errors"),
    ("Evictions retried", "evict_retries"),
    ("Evictions failed", "evict_failures"),
    ("Seconds", "seconds"),
)


def table(outcomes: Iterable[Outcome]) -> str:
    """The outcomes as a Markdown table."""
    lines = [
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    for outcome in outcomes:
        cells = [str(getattr(outcome, name)) for _, name in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faults-report", description=__doc__.splitlines()[0])
    parser.add_argument("--shim", choices=SHIMS, action="append", help="only this shim")
    parser.add_argument("--only", action="append", help="only this scenario (by name)")
    args = parser.parse_args(argv)
    outcomes = []
    for item in SCENARIOS:
        if args.only and item.name not in args.only:
            continue
        for shim in args.shim or SHIMS:
            outcome = run_scenario(shim, item)
            print(f"{shim:14} {item.name}: {outcome}", file=sys.stderr, flush=True)
            outcomes.append(outcome)
    print(table(outcomes))
    return 0 if all(o.lost == 0 and o.twice_unexplained == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
