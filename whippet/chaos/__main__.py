"""``python -m whippet.chaos``: trial --seed N | run --trials N | report | cleanup."""

from whippet.chaos.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
