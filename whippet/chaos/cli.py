"""Command line of the chaos suite (``python -m whippet.chaos``, ``make chaos``).

``trial --seed N`` replays one seed; ``run --trials N`` runs seeds ``first..first+N-1``
(even seeds on 3 nodes, odd on 5) one after another, printing progress, then writes
the report; ``report`` rewrites docs/RELIABILITY.md's table from a results directory (``--seeds A-B``
prints the table of those seeds instead);
``cleanup`` removes whatever is left of the iptables chain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from whippet.chaos import netfilter

__all__ = ["main"]


def _on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through every finally: nodes stopped, rules removed


def _stop_on_signals() -> None:
    """SIGTERM and SIGINT both raise KeyboardInterrupt at once in the main thread.

    SIGINT is not left to asyncio.run, which turns it into a cancellation of the main
    task: a cancellation is lost when a task it passes through ends normally anyway (a
    3.11 ``wait_for`` whose inner future completes at the same moment returns its
    result). A SIGINT that the parent ignores (a background job of a non-interactive
    shell) stays ignored: that, not a lost cancellation, is why the interrupt test once
    saw a trial exit 0 (the test now gives the trial SIGINT as a terminal would).
    """
    signal.signal(signal.SIGTERM, _on_signal)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)


def _trials(seeds: list[int], results: Path, profile: str, keep_data: bool) -> int:
    from whippet.chaos.trial import run_trial

    failed = []
    for n, seed in enumerate(seeds, 1):
        result = asyncio.run(run_trial(seed, results, profile, keep_data))
        print(f"[{n}/{len(seeds)}] {result.summary()}", flush=True)
        if not result.passed:
            failed.append(seed)
    print(f"{len(seeds) - len(failed)} passed, {len(failed)} failed" + (f": seeds {failed}" if failed else ""))
    return 1 if failed else 0


def _seed_range(text: str) -> range:
    first, _, last = text.partition("-")
    try:
        return range(int(first), int(last or first) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A-B (seeds), got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m whippet.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("trial", help="run (replay) one seeded trial")
    one.add_argument("--seed", type=int, required=True)
    many = sub.add_parser("run", help="run many trials and write the report")
    many.add_argument("--trials", type=int, default=200)
    many.add_argument("--first-seed", type=int, default=1)
    many.add_argument("--doc", type=Path, default=Path("docs/RELIABILITY.md"))
    for p in (one, many):
        p.add_argument("--results", type=Path, default=Path("chaos-results"))
        p.add_argument("--profile", choices=("full", "short"), default="full")
        p.add_argument("--keep-data", action="store_true", help="keep the data dirs of failing trials")
    rep = sub.add_parser("report", help="write docs/RELIABILITY.md's table from a results directory")
    rep.add_argument("--results", type=Path, default=Path("chaos-results"))
    rep.add_argument("--doc", type=Path, default=Path("docs/RELIABILITY.md"))
    rep.add_argument("--seeds", type=_seed_range, default=None,
                     help="A-B: print the table of these seeds only (e.g. the trials of one code version)")
    again = sub.add_parser("check", help="re-run the checker over a failing trial's saved files")
    again.add_argument("directory", type=Path, help="a trial directory, e.g. chaos-results/seed-7")
    sub.add_parser("cleanup", help=f"remove the {netfilter.CHAIN} iptables chain and its OUTPUT jump")
    args = parser.parse_args(argv)
    if args.command == "cleanup":
        netfilter.cleanup()
        print(f"{netfilter.CHAIN}: nothing left")
        return 0
    if args.command == "check":
        from whippet.chaos.trial import recheck

        found = recheck(args.directory)
        for a in found:
            print(json.dumps(a.to_json(), default=str))
        return 1 if found else 0
    if args.command == "report":  # reads files only: no chain to clean up afterwards
        from whippet.chaos.report import table, write_report

        if args.seeds is not None:
            print(table(args.results, args.seeds))
            return 0
        write_report(args.results, args.doc)
        print(f"wrote {args.doc}")
        return 0
    _stop_on_signals()
    try:
        if args.command == "trial":
            return _trials([args.seed], args.results, args.profile, args.keep_data)
        if args.command == "run":
            code = _trials(list(range(args.first_seed, args.first_seed + args.trials)), args.results, args.profile,
                           args.keep_data)
            from whippet.chaos.report import write_report

            write_report(args.results, args.doc)
            print(f"wrote {args.doc}")
            return code
    finally:
        netfilter.cleanup_if_idle()  # last resort, unless another run now uses the chain
    print(f"unknown command {args.command}", file=sys.stderr)
    return 2
