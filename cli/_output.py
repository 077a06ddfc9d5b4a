"""What the CLI prints: aligned tables, ``key: value`` lists, or JSON (``--output json``).

Rows are built from the response dataclasses; JSON output is the same data as
plain objects (bytes as UTF-8 text when they decode, else base64), so scripts can
rely on field names matching the SDK's. Two JSON rules protect scripts: a message
``id`` (128 bits) is always a string, and so is any other integer past 2**53 - 1
(jq and JavaScript read JSON numbers as doubles and would round it); a message's
``user_headers`` are decoded by kind (``{"name": {"kind": "int32", "value": 7}}``).
Tables cut long payloads (:func:`clip`) unless ``--full`` is given.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from whippet.wire.batch import PolledMessage
from whippet.wire.errors import IggyError
from whippet.wire.header_values import decode_headers

__all__ = ["Printer", "Progress", "clip", "headers_text", "message_rows", "plain", "timestamp"]

_SAFE_INT = 2**53 - 1
#: payload characters a table shows before it cuts (``--full`` shows everything)
CLIP = 80


def _headers(data: bytes) -> Any:
    try:
        decoded = decode_headers(data)
    except IggyError:  # not valid TLV: show the bytes rather than fail
        return plain_bytes(data)
    return {k: {"kind": v.kind_name, "value": plain(v.value)} for k, v in decoded.items()}


def plain_bytes(data: bytes) -> Any:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def plain(value: Any) -> Any:
    """A JSON-ready copy of a response object."""
    if isinstance(value, PolledMessage):
        out = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        out["id"] = str(value.id)
        out["user_headers"] = _headers(value.user_headers) if value.user_headers else {}
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return plain_bytes(bytes(value))
    if hasattr(value, "value") and hasattr(value, "is_numeric"):  # Identifier
        return value.value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INT:
        return str(value)
    return value


def clip(payload: bytes, full: bool = False, limit: int = CLIP) -> str:
    """A payload for a table cell: text (or hex when it is not text), cut at ``limit``
    characters with its size, unless ``full``; never more than one line."""
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        text = payload.hex()
    if not full:
        text = text.replace("\n", "\\n").replace("\r", "\\r")
        if len(text) > limit:
            return f"{text[:limit]}... ({len(payload)} B)"
    return text


def headers_text(data: bytes) -> str:
    """``key=value (kind)`` pairs for a table."""
    if not data:
        return ""
    try:
        decoded = decode_headers(data)
    except IggyError:
        return data.hex()
    return ", ".join(f"{k}={v} ({v.kind_name})" for k, v in decoded.items())


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

    plain = staticmethod(plain)

    def line(self, value: Any) -> None:
        """One line at once (a followed stream): JSON on one line in JSON mode, else the text."""
        text = json.dumps(plain(value)) if self.json else str(value)
        print(text, file=self.out, flush=True)

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


def message_rows(messages: Sequence[Any], partition: int, full: bool, show_headers: bool) -> list[list[Any]]:
    """Table rows of polled messages: partition, offset, time, id, size, payload (cut), [headers]."""
    rows = []
    for m in messages:
        row: list[Any] = [partition, m.offset, timestamp(m.timestamp), str(m.id), len(m.payload), clip(m.payload, full)]
        if show_headers:
            row.append(headers_text(m.user_headers))
        rows.append(row)
    return rows


class Progress:
    """Progress of a long operation on stderr: a rewritten line on a terminal, plain lines
    (at most one a second) when forced with ``--progress`` on a pipe, nothing otherwise.
    Results stay on stdout, so ``--output json`` and pipes are never mixed with it."""

    def __init__(self, what: str, total: int | None = None, *, force: bool = False, err: TextIO | None = None) -> None:
        self.what = what
        self.total = total
        self.err = err or sys.stderr
        self.tty = self.err.isatty()
        self.enabled = self.tty or force
        self.done = 0
        self._shown = 0.0

    def advance(self, n: int) -> None:
        import time

        self.done += n
        now = time.monotonic()
        if self.enabled and (self.tty or now - self._shown >= 1.0):
            self._shown = now
            self._print()

    def _print(self, end: str = "") -> None:
        of = f"/{self.total}" if self.total is not None else ""
        line = f"{self.what}: {self.done}{of}"
        if self.tty:
            print(f"\r{line}", end=end, file=self.err, flush=True)
        else:
            print(line, file=self.err, flush=True)

    def finish(self) -> None:
        if self.enabled:
            self._print(end="\n")
