"""What the CLI prints: aligned tables, ``key: value`` lists, or JSON (``--output json``).

Rows are built from the response dataclasses; JSON output is the same data as
plain objects (bytes as UTF-8 text when they decode, else base64), so scripts can
rely on field names matching the SDK's.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["Printer", "plain", "timestamp"]


def plain(value: Any) -> Any:
    """A JSON-ready copy of a response object."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(data).decode()}
    if hasattr(value, "value") and hasattr(value, "is_numeric"):  # Identifier
        return value.value
    return value


def timestamp(us: int) -> str:
    if not us:
        return "-"
    return datetime.datetime.fromtimestamp(us / 1e6, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Printer:
    def __init__(self, mode: str = "table", quiet: bool = False, out: TextIO | None = None) -> None:
        self.mode = mode
        self.quiet = quiet
        self.out = out or sys.stdout

    @property
    def json(self) -> bool:
        return self.mode == "json"

    def info(self, text: str) -> None:
        """A human sentence (suppressed by --quiet and in JSON mode)."""
        if not self.quiet and not self.json:
            print(text, file=self.out)

    def data(self, value: Any) -> None:
        print(json.dumps(plain(value), indent=2), file=self.out)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], raw: Any = None) -> None:
        """A table (or, in JSON mode, ``raw`` or the rows as objects)."""
        if self.json:
            self.data(raw if raw is not None else [dict(zip(headers, r)) for r in rows])
            return
        if self.mode == "list":
            for r in rows:
                print(" | ".join(str(c) for c in r), file=self.out)
            return
        cells = [[str(c) for c in r] for r in rows]
        widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
        line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        print(line, file=self.out)
        print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |", file=self.out)
        print(line, file=self.out)
        for r in cells:
            print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |", file=self.out)
        print(line, file=self.out)

    def fields(self, pairs: Sequence[tuple[str, Any]], raw: Any = None) -> None:
        """One object as a two-column table."""
        if self.json:
            self.data(raw if raw is not None else dict(pairs))
            return
        self.table(["Property", "Value"], [(k, v) for k, v in pairs])
