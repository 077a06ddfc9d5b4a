"""Options blocks and the topic option catalog (protocol 0.9 §4.1, §4.3, §4.6).

An options block is a list of entries encoded like message user headers:
``[key_kind u8][key_len u32][key][value_kind u8][value_len u32][value]``. Keys
are strings (kind 2), 1..255 bytes, unique; a block holds at most 1024 entries
and 100 000 bytes. Requests carry the block as the payload's tail, responses
behind a u32 length.

Streams and users have no catalog keys at 0.9.0, so any key is refused (4041).
Topics have nine (:data:`TOPIC_CATALOG`). A CreateTopic stores the keys it was
sent re-encoded in their canonical kind (``"128 MiB"`` becomes a u64); an
UpdateTopic may only carry the three updatable keys and stores their bytes as
sent. The ``durability`` option is whippet's producer ack level: ``replicated``
is ``quorum``, ``persisted`` is ``all``, and the whippet names ``leader``,
``quorum`` and ``all`` are accepted as they are (docs/COMPATIBILITY.md).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from whippet.wire._codec import U64_MAX, Reader, Writer
from whippet.wire.errors import IggyError, InvalidFormat
from whippet.wire.headers import HeaderKind
from whippet.wire.units import expiry_us, size_bytes
from whippet.wire.v09.errors import InvalidOptionValue, OptionsBlockTooLarge, UnsupportedOptionKey

__all__ = [
    "DURABILITY_ACK",
    "MAX_ENTRIES",
    "MAX_BLOCK_BYTES",
    "OptionEntry",
    "OptionSpec",
    "TOPIC_CATALOG",
    "TopicOptions",
    "catalog",
    "decode_block",
    "derived_topic_options",
    "encode_block",
    "encode_describe",
    "option_text",
    "parse_topic_options",
    "read_tail",
    "refuse_all",
    "write_prefixed",
]

MAX_ENTRIES = 1024
MAX_BLOCK_BYTES = 100_000
_TL = struct.Struct("<BI")

#: (key, value kind, value bytes); keys are kind-2 strings
OptionEntry = tuple[str, int, bytes]

#: the ``durability`` option's words and the whippet ack level each one sets
DURABILITY_ACK = {"replicated": "quorum", "persisted": "all", "leader": "leader", "quorum": "quorum", "all": "all"}
_OFFSET_DURABILITY = ("replicated", "persisted")
_COMPRESSION = {"none": 1, "gzip": 2}
_COMPRESSION_NAMES = {v: k for k, v in _COMPRESSION.items()}
_MIB = 1 << 20
_GIB = 1 << 30


def decode_block(data: bytes | bytearray | memoryview) -> list[OptionEntry]:
    """All entries of a block that fills ``data``; raises 4043 when too large, 4 when malformed."""
    if len(data) > MAX_BLOCK_BYTES:
        raise OptionsBlockTooLarge(f"options block of {len(data)} bytes exceeds {MAX_BLOCK_BYTES}")
    r = Reader(data)
    out: list[OptionEntry] = []
    seen: set[str] = set()
    while r.remaining():
        if len(out) == MAX_ENTRIES:
            raise OptionsBlockTooLarge(f"more than {MAX_ENTRIES} option entries")
        key_kind = r.u8()
        key_len = r.u32()
        if key_kind != HeaderKind.STRING or not 1 <= key_len <= 255:
            raise InvalidFormat("an option key must be a 1..255-byte string")
        key = r.utf8(key_len)
        value_kind = r.u8()
        value_len = r.u32()
        if value_kind == 0 or not 1 <= value_len <= 255:
            raise InvalidFormat(f"option {key!r}: a value must be 1..255 bytes of a known kind")
        value = bytes(r.raw(value_len))
        if key in seen:
            raise InvalidFormat(f"option {key!r} given twice")
        seen.add(key)
        out.append((key, value_kind, value))
    return out


def read_tail(r: Reader) -> list[OptionEntry]:
    """The options block that runs to the end of a request payload (empty = none)."""
    return decode_block(r.raw(r.remaining()))


def encode_block(entries: Iterable[OptionEntry]) -> bytes:
    """Entries sorted by key, as upstream orders them."""
    out = bytearray()
    for key, kind, value in sorted(entries):
        data = key.encode()
        out += _TL.pack(HeaderKind.STRING, len(data)) + data + _TL.pack(kind, len(value)) + value
    return bytes(out)


def write_prefixed(w: Writer, entries: Iterable[OptionEntry]) -> None:
    """``options_len u32`` + block: the response form."""
    block = encode_block(entries)
    w.u32(len(block)).raw(block)


def refuse_all(entries: Sequence[OptionEntry], what: str) -> None:
    """Streams and users have no catalog at 0.9.0: any key is 4041."""
    if entries:
        raise UnsupportedOptionKey(f"{what} options have no key {entries[0][0]!r}")


# --- the topic catalog -------------------------------------------------------------------
def _u64(value: int) -> bytes:
    return value.to_bytes(8, "little")


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    key: str
    kind: int
    default: bytes
    description: str
    updatable: bool = False


TOPIC_CATALOG: tuple[OptionSpec, ...] = (
    OptionSpec("compression_algorithm", HeaderKind.STRING, b"none", "Compression of stored messages: none or gzip.", True),
    OptionSpec("message_expiry", HeaderKind.UINT64, _u64(U64_MAX),
               "How long messages are kept, in microseconds or as a duration ('7 days'); u64::MAX never expires.", True),
    OptionSpec("max_topic_size", HeaderKind.UINT64, _u64(U64_MAX),
               "Largest size of the topic in bytes or as a size ('1 GiB'); u64::MAX is unlimited.", True),
    OptionSpec("segment_size", HeaderKind.UINT64, _u64(_GIB),
               "Segment size in bytes or as a size: a 512-byte multiple from 1 MiB to 1 GiB."),
    OptionSpec("durability", HeaderKind.STRING, b"replicated",
               "When a send is acknowledged: replicated (whippet ack quorum), persisted (ack all), "
               "or whippet's leader, quorum, all."),
    OptionSpec("consumer_offset_durability", HeaderKind.STRING, b"replicated",
               "Durability of stored consumer offsets: replicated or persisted (whippet commits offsets "
               "through the replicated metadata either way)."),
    OptionSpec("messages_required_to_save", HeaderKind.UINT32, _u32(1024),
               "Flush threshold in messages, 1 to 16 Mi."),
    OptionSpec("size_of_messages_required_to_save", HeaderKind.UINT64, _u64(_MIB),
               "Flush threshold in bytes or as a size, at most 1 GiB."),
    OptionSpec("preallocate_segments", HeaderKind.BOOL, b"\x00", "Reserve each segment's bytes when it opens."),
)
_SPECS = {s.key: s for s in TOPIC_CATALOG}


def catalog(scope: int) -> tuple[OptionSpec, ...]:
    """The catalog of scope 1 topic, 2 stream, 3 user; any other scope is 3 (InvalidCommand)."""
    if scope == 1:
        return TOPIC_CATALOG
    if scope in (2, 3):
        return ()
    raise IggyError(f"unknown options scope {scope}", code=3)


def encode_describe(specs: Sequence[OptionSpec]) -> bytes:
    """DescribeOptions reply: ``count u32`` + (key name8, kind u8, default str32, description str32)."""
    w = Writer().u32(len(specs))
    for s in specs:
        w.name8(s.key).u8(s.kind).u32(len(s.default)).raw(s.default).str32(s.description)
    return w.getvalue()


@dataclass(frozen=True, slots=True)
class TopicOptions:
    """A parsed topic options block: the typed values given, and the entries to store."""

    compression: int | None = None
    message_expiry: int | None = None
    max_topic_size: int | None = None
    ack: str | None = None
    #: what the topic keeps as its explicit options
    entries: tuple[OptionEntry, ...] = field(default=())


def _text(key: str, kind: int, value: bytes) -> str:
    if kind != HeaderKind.STRING:
        raise InvalidOptionValue(f"option {key!r} takes a string")
    return value.decode("utf-8", "replace").strip().lower()


def _number(key: str, kind: int, value: bytes, words: object) -> int:
    """A u64/u32 value, or a string parsed with ``words`` (a size or a duration)."""
    if kind in (HeaderKind.UINT64, HeaderKind.UINT32) and len(value) == (8 if kind == HeaderKind.UINT64 else 4):
        return int.from_bytes(value, "little")
    if kind == HeaderKind.STRING:
        text = value.decode("utf-8", "replace").strip()
        try:
            return int(text) if text.isdigit() else int(words(text))  # type: ignore[operator]
        except ValueError:
            pass
    raise InvalidOptionValue(f"option {key!r}: {value!r} is not a valid value")


def _canonical(key: str, kind: int, value: bytes) -> tuple[bytes, object]:
    """Validate one catalog entry; returns its canonical bytes and its typed value."""
    if key == "compression_algorithm":
        name = _text(key, kind, value)
        if name not in _COMPRESSION:
            raise InvalidOptionValue(f"compression_algorithm must be none or gzip, got {name!r}")
        return name.encode(), _COMPRESSION[name]
    if key == "message_expiry":
        n = _number(key, kind, value, lambda t: expiry_us(t.split()))
        return _u64(n), n
    if key in ("max_topic_size", "segment_size", "size_of_messages_required_to_save"):
        n = _number(key, kind, value, size_bytes)
        if key == "segment_size" and n and (n % 512 or not _MIB <= n <= _GIB):
            raise InvalidOptionValue("segment_size must be a 512-byte multiple from 1 MiB to 1 GiB")
        if key == "size_of_messages_required_to_save" and n > _GIB:
            raise InvalidOptionValue("size_of_messages_required_to_save is at most 1 GiB")
        return _u64(n), n
    if key == "messages_required_to_save":
        n = _number(key, kind, value, int)
        if not 1 <= n <= 16 << 20:
            raise InvalidOptionValue("messages_required_to_save must be 1 to 16 Mi")
        return _u32(n), n
    if key == "durability":
        word = _text(key, kind, value)
        if word not in DURABILITY_ACK:
            raise InvalidOptionValue(f"durability must be one of {', '.join(DURABILITY_ACK)}, got {word!r}")
        return word.encode(), DURABILITY_ACK[word]
    if key == "consumer_offset_durability":
        word = _text(key, kind, value)
        if word not in _OFFSET_DURABILITY:
            raise InvalidOptionValue(f"consumer_offset_durability must be replicated or persisted, got {word!r}")
        return word.encode(), word
    if key == "preallocate_segments":
        if kind == HeaderKind.BOOL and len(value) == 1 and value[0] in (0, 1):
            return value, bool(value[0])
        word = _text(key, kind, value)
        if word not in ("true", "false"):
            raise InvalidOptionValue("preallocate_segments must be true or false")
        return (b"\x01" if word == "true" else b"\x00"), word == "true"
    raise UnsupportedOptionKey(f"no topic option {key!r}")


def parse_topic_options(entries: Sequence[OptionEntry], *, update: bool = False) -> TopicOptions:
    """Check a topic block against the catalog (and, for an update, the updatable keys).

    A create stores canonical kinds; an update stores the bytes as sent. A value
    of 0 for expiry or size means "server default", i.e. not given.
    """
    typed: dict[str, object] = {}
    stored: list[OptionEntry] = []
    for key, kind, value in entries:
        spec = _SPECS.get(key)
        if spec is None or (update and not spec.updatable):
            raise UnsupportedOptionKey(f"topic option {key!r} is not {'updatable' if update else 'known'}")
        canonical, parsed = _canonical(key, kind, value)
        if key in ("message_expiry", "max_topic_size", "segment_size") and parsed == 0:
            continue  # 0 = resolve the default: nothing chosen
        typed[key] = parsed
        stored.append((key, kind, value) if update else (key, spec.kind, canonical))
    return TopicOptions(
        compression=typed.get("compression_algorithm"),  # type: ignore[arg-type]
        message_expiry=typed.get("message_expiry"),  # type: ignore[arg-type]
        max_topic_size=typed.get("max_topic_size"),  # type: ignore[arg-type]
        ack=typed.get("durability"),  # type: ignore[arg-type]
        entries=tuple(sorted(stored)),
    )


def option_text(kind: int, value: bytes) -> str:
    """An option value as the REST API shows it (and as a create body may send it back)."""
    if kind in (HeaderKind.UINT64, HeaderKind.UINT32) and len(value) in (4, 8):
        return str(int.from_bytes(value, "little"))
    if kind == HeaderKind.BOOL and len(value) == 1:
        return "true" if value[0] else "false"
    return value.decode("utf-8", "replace")


def derived_topic_options(
    explicit: Iterable[OptionEntry], compression: int, message_expiry: int, max_topic_size: int, ack: str
) -> list[OptionEntry]:
    """The catalog keys the client did not set, resolved: the topic's own values for the
    three it has as fields (and its ack level for ``durability``), the defaults otherwise."""
    given = {key for key, _, _ in explicit}
    durability = next((w for w, level in DURABILITY_ACK.items() if level == ack), "replicated")
    resolved = {
        "compression_algorithm": _COMPRESSION_NAMES.get(compression, "none").encode(),
        "message_expiry": _u64(message_expiry or U64_MAX),
        "max_topic_size": _u64(max_topic_size or U64_MAX),
        "durability": durability.encode(),
    }
    return [(s.key, s.kind, resolved.get(s.key, s.default)) for s in TOPIC_CATALOG if s.key not in given]
