"""python -m sim [--schedules N] [--first S] [--workers W] | --seed S (replay one, verbosely)"""

from __future__ import annotations

import argparse
import sys

from sim.campaign import quiet, replay, run_campaign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    parser.add_argument("--seed", type=int, help="replay one seed with its schedule and faults")
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--first", type=int, default=1, help="the first seed of the range")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    quiet()
    if args.seed is not None:
        outcome, report = replay(args.seed)
        print("\n".join(outcome.trace))
        print("\n".join(report.lines()))
        return 1 if outcome.violations else 0
    report = run_campaign(range(args.first, args.first + args.schedules), args.workers)
    print("\n".join(report.lines()))
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
