"""User permissions: the domain model and the checks every command runs.

The three levels (global, per stream, per topic) and their flags are Iggy 0.8's;
``wire/`` encodes them, ``metadata/`` stores them, ``node/`` asks the ``can_*``
questions below before it touches anything. There is no root bypass: root passes
because all its global flags are set, exactly as in Iggy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "ROOT_PERMISSIONS",
    "GlobalPermissions",
    "Permissions",
    "StreamPermissions",
    "TopicPermissions",
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


def _flags(obj: Any) -> dict[str, bool]:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.name != "topics"}


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
        gp = GlobalPermissions(**{f.name: bool(g.get(f.name, False)) for f in fields(GlobalPermissions)})
        streams = None
        raw_streams = data.get("streams")
        if raw_streams is not None:
            streams = {}
            for sid, s in raw_streams.items():
                topics = None
                if s.get("topics") is not None:
                    topics = {
                        int(tid): TopicPermissions(
                            **{f.name: bool(t.get(f.name, False)) for f in fields(TopicPermissions)}
                        )
                        for tid, t in s["topics"].items()
                    }
                flags = {
                    f.name: bool(s.get(f.name, False))
                    for f in fields(StreamPermissions)
                    if f.name != "topics"
                }
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

    # --- the permission labels of the protocol reference (section 9.3) ---
    def can_read_servers(self) -> bool:
        g = self.global_
        return g.manage_servers or g.read_servers

    def can_read_users(self) -> bool:
        g = self.global_
        return g.manage_users or g.read_users

    def can_manage_users(self) -> bool:
        return self.global_.manage_users

    def can_list_streams(self) -> bool:
        g = self.global_
        return g.manage_streams or g.read_streams

    def can_read_stream(self, stream_id: int) -> bool:
        if self.can_list_streams():
            return True
        sp = self.stream(stream_id)
        return sp is not None and (sp.manage_stream or sp.read_stream)

    def can_create_stream(self) -> bool:
        return self.global_.manage_streams

    def can_manage_stream(self, stream_id: int) -> bool:
        if self.global_.manage_streams:
            return True
        sp = self.stream(stream_id)
        return sp is not None and sp.manage_stream

    def can_read_topic(self, stream_id: int, topic_id: int | None = None) -> bool:
        g = self.global_
        if g.read_streams or g.manage_streams or g.manage_topics or g.read_topics:
            return True
        sp = self.stream(stream_id)
        if sp is not None and (sp.manage_stream or sp.read_stream or sp.manage_topics or sp.read_topics):
            return True
        if topic_id is None:
            return False
        tp = self.topic(stream_id, topic_id)
        return tp is not None and (tp.manage_topic or tp.read_topic)

    def can_create_topic(self, stream_id: int) -> bool:
        g = self.global_
        if g.manage_streams or g.manage_topics:
            return True
        sp = self.stream(stream_id)
        return sp is not None and (sp.manage_stream or sp.manage_topics)

    def can_manage_topic(self, stream_id: int, topic_id: int) -> bool:
        if self.can_create_topic(stream_id):
            return True
        tp = self.topic(stream_id, topic_id)
        return tp is not None and tp.manage_topic

    def can_poll(self, stream_id: int, topic_id: int) -> bool:
        g = self.global_
        if g.poll_messages or g.read_topics or g.manage_topics or g.read_streams or g.manage_streams:
            return True
        sp = self.stream(stream_id)
        if sp is not None and (
            sp.manage_stream or sp.read_stream or sp.manage_topics or sp.read_topics or sp.poll_messages
        ):
            return True
        tp = self.topic(stream_id, topic_id)
        return tp is not None and (tp.manage_topic or tp.read_topic or tp.poll_messages)

    def can_send(self, stream_id: int, topic_id: int) -> bool:
        g = self.global_
        if g.send_messages or g.manage_streams or g.manage_topics:
            return True
        sp = self.stream(stream_id)
        if sp is not None and (sp.manage_stream or sp.manage_topics or sp.send_messages):
            return True
        tp = self.topic(stream_id, topic_id)
        return tp is not None and (tp.manage_topic or tp.send_messages)


ROOT_PERMISSIONS = Permissions(
    global_=GlobalPermissions(**{f.name: True for f in fields(GlobalPermissions)}),
    streams=None,
)
