"""Command line of the chaos suite (``python -m whippet.chaos``, ``make chaos``)."""

from __future__ import annotations

import argparse
import sys

from whippet.chaos import netfilter

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m whippet.chaos", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("cleanup", help=f"remove the {netfilter.CHAIN} iptables chain and its OUTPUT jump")
    args = parser.parse_args(argv)
    if args.command == "cleanup":
        netfilter.cleanup()
        print(f"{netfilter.CHAIN}: nothing left")
        return 0
    print(f"unknown command {args.command}", file=sys.stderr)
    return 2
