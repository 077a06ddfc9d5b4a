"""User permissions as the protocol carries them (protocol reference §9.4).

Three levels (global, per stream, per topic) of boolean flags, in wire order, and
the JSON shape of the HTTP API (also the shape the metadata commands and
snapshots store). This is data only: what each flag allows, the checks every
command runs, lives in :mod:`whippet.metadata.permissions`, and the byte codec in
:mod:`whippet.wire.primitives`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "GlobalPermissions",
    "Permissions",
    "StreamPermissions",
    "TopicPermissions",
    "flag_names",
]


@dataclass(frozen=True, slots=True)
class GlobalPermissions:
    """The ten global flags, in wire order."""

    manage_servers: bool = False
    read_servers: bool = False
    manage_users: bool = False
    read_users: bool = False
    manage_streams: bool = False
    read_streams: bool = False
    manage_topics: bool = False
    read_topics: bool = False
    poll_messages: bool = False
    send_messages: bool = False


@dataclass(frozen=True, slots=True)
class TopicPermissions:
    """The four per-topic flags, in wire order."""

    manage_topic: bool = False
    read_topic: bool = False
    poll_messages: bool = False
    send_messages: bool = False


@dataclass(frozen=True, slots=True)
class StreamPermissions:
    """The six per-stream flags, in wire order, and the topic overrides."""

    manage_stream: bool = False
    read_stream: bool = False
    manage_topics: bool = False
    read_topics: bool = False
    poll_messages: bool = False
    send_messages: bool = False
    topics: dict[int, TopicPermissions] | None = None


def flag_names(
    level: type[GlobalPermissions] | type[StreamPermissions] | type[TopicPermissions],
) -> tuple[str, ...]:
    """The boolean flags of one level, in wire order (a stream's topic overrides are no flag)."""
    return tuple(f.name for f in fields(level) if f.name != "topics")


def _flags(obj: GlobalPermissions | StreamPermissions | TopicPermissions) -> dict[str, bool]:
    return {name: getattr(obj, name) for name in flag_names(type(obj))}


@dataclass(frozen=True, slots=True)
class Permissions:
    """A user's permissions; ``None`` in place of a whole ``Permissions`` means none."""

    global_: GlobalPermissions = field(default_factory=GlobalPermissions)
    streams: dict[int, StreamPermissions] | None = None

    # --- JSON shape (the HTTP API's, also used by the metadata commands) ---
    def to_json(self) -> dict[str, Any]:
        streams: dict[str, Any] | None = None
        if self.streams is not None:
            streams = {}
            for sid, sp in sorted(self.streams.items()):
                topics = None
                if sp.topics is not None:
                    topics = {str(tid): _flags(tp) for tid, tp in sorted(sp.topics.items())}
                streams[str(sid)] = {**_flags(sp), "topics": topics}
        return {"global": _flags(self.global_), "streams": streams}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Permissions:
        """Parse the JSON shape; unknown flags are ignored, missing ones are false."""
        g = data.get("global") or {}
        gp = GlobalPermissions(**{name: bool(g.get(name, False)) for name in flag_names(GlobalPermissions)})
        streams = None
        raw_streams = data.get("streams")
        if raw_streams is not None:
            streams = {}
            for sid, s in raw_streams.items():
                topics = None
                if s.get("topics") is not None:
                    topics = {
                        int(tid): TopicPermissions(
                            **{name: bool(t.get(name, False)) for name in flag_names(TopicPermissions)}
                        )
                        for tid, t in s["topics"].items()
                    }
                flags = {name: bool(s.get(name, False)) for name in flag_names(StreamPermissions)}
                streams[int(sid)] = StreamPermissions(**flags, topics=topics)
        return cls(global_=gp, streams=streams)

    # --- lookups ---
    def stream(self, stream_id: int) -> StreamPermissions | None:
        return None if self.streams is None else self.streams.get(stream_id)

    def topic(self, stream_id: int, topic_id: int) -> TopicPermissions | None:
        sp = self.stream(stream_id)
        if sp is None or sp.topics is None:
            return None
        return sp.topics.get(topic_id)
