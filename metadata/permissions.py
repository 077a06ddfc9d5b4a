"""What each permission flag allows: the checks every command runs.

The three levels (global, per stream, per topic) and their flags are Iggy 0.8's
(the data, :class:`whippet.wire.permissions.Permissions`, is the protocol's);
``node/`` asks the ``can_*`` questions below before it touches anything. The
rules are the permission labels of the protocol reference (section 9.3). There
is no root bypass: root passes because all its global flags are set, exactly as
in Iggy.
"""

from __future__ import annotations

from dataclasses import fields

from whippet.wire.permissions import GlobalPermissions, Permissions

__all__ = [
    "ROOT_PERMISSIONS",
    "can_read_servers",
    "can_read_users",
    "can_manage_users",
    "can_list_streams",
    "can_read_stream",
    "can_create_stream",
    "can_manage_stream",
    "can_read_topic",
    "can_create_topic",
    "can_manage_topic",
    "can_poll",
    "can_send",
]


def can_read_servers(p: Permissions) -> bool:
    g = p.global_
    return g.manage_servers or g.read_servers


def can_read_users(p: Permissions) -> bool:
    g = p.global_
    return g.manage_users or g.read_users


def can_manage_users(p: Permissions) -> bool:
    return p.global_.manage_users


def can_list_streams(p: Permissions) -> bool:
    g = p.global_
    return g.manage_streams or g.read_streams


def can_read_stream(p: Permissions, stream_id: int) -> bool:
    if can_list_streams(p):
        return True
    sp = p.stream(stream_id)
    return sp is not None and (sp.manage_stream or sp.read_stream)


def can_create_stream(p: Permissions) -> bool:
    return p.global_.manage_streams


def can_manage_stream(p: Permissions, stream_id: int) -> bool:
    if p.global_.manage_streams:
        return True
    sp = p.stream(stream_id)
    return sp is not None and sp.manage_stream


def can_read_topic(p: Permissions, stream_id: int, topic_id: int | None = None) -> bool:
    g = p.global_
    if g.read_streams or g.manage_streams or g.manage_topics or g.read_topics:
        return True
    sp = p.stream(stream_id)
    if sp is not None and (sp.manage_stream or sp.read_stream or sp.manage_topics or sp.read_topics):
        return True
    if topic_id is None:
        return False
    tp = p.topic(stream_id, topic_id)
    return tp is not None and (tp.manage_topic or tp.read_topic)


def can_create_topic(p: Permissions, stream_id: int) -> bool:
    g = p.global_
    if g.manage_streams or g.manage_topics:
        return True
    sp = p.stream(stream_id)
    return sp is not None and (sp.manage_stream or sp.manage_topics)


def can_manage_topic(p: Permissions, stream_id: int, topic_id: int) -> bool:
    if can_create_topic(p, stream_id):
        return True
    tp = p.topic(stream_id, topic_id)
    return tp is not None and tp.manage_topic


def can_poll(p: Permissions, stream_id: int, topic_id: int) -> bool:
    g = p.global_
    if g.poll_messages or g.read_topics or g.manage_topics or g.read_streams or g.manage_streams:
        return True
    sp = p.stream(stream_id)
    if sp is not None and (
        sp.manage_stream or sp.read_stream or sp.manage_topics or sp.read_topics or sp.poll_messages
    ):
        return True
    tp = p.topic(stream_id, topic_id)
    return tp is not None and (tp.manage_topic or tp.read_topic or tp.poll_messages)


def can_send(p: Permissions, stream_id: int, topic_id: int) -> bool:
    g = p.global_
    if g.send_messages or g.manage_streams or g.manage_topics:
        return True
    sp = p.stream(stream_id)
    if sp is not None and (sp.manage_stream or sp.manage_topics or sp.send_messages):
        return True
    tp = p.topic(stream_id, topic_id)
    return tp is not None and (tp.manage_topic or tp.send_messages)


ROOT_PERMISSIONS = Permissions(
    global_=GlobalPermissions(**{f.name: True for f in fields(GlobalPermissions)}),
    streams=None,
)
