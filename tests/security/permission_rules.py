"""Iggy 0.8's permission rules, written out independently of ``metadata/permissions.py``.

The oracle of the permission matrix: which principal may run which command, from the
protocol reference (§3 "Perm" column, §9.3 label table; Iggy ``server-0.8.0``
``core/server/src/metadata/reader.rs``). It does not import the code it checks.

A principal is a set of flags: ``g.<flag>`` (global), ``s.<flag>`` (on the matrix's
stream), ``t.<flag>`` (on its topic). Root holds every global flag; a personal access
token logs in as its user and holds exactly that user's flags.
"""

from __future__ import annotations

__all__ = ["DEPARTURES", "GLOBAL", "LABELS", "STREAM", "TOPIC", "allows"]

GLOBAL = ("manage_servers", "read_servers", "manage_users", "read_users", "manage_streams", "read_streams",
          "manage_topics", "read_topics", "poll_messages", "send_messages")
STREAM = ("manage_stream", "read_stream", "manage_topics", "read_topics", "poll_messages", "send_messages")
TOPIC = ("manage_topic", "read_topic", "poll_messages", "send_messages")

_STR_L = {"g.manage_streams", "g.read_streams"}
_TOP_C = {"g.manage_streams", "g.manage_topics", "s.manage_stream", "s.manage_topics"}
_TOP_R_STREAM = {"g.read_streams", "g.manage_streams", "g.manage_topics", "g.read_topics",
                 "s.manage_stream", "s.read_stream", "s.manage_topics", "s.read_topics"}

#: label -> the flags that grant it (§9.3). "NONE": no login needed; "AUTH": any logged-in user.
LABELS: dict[str, set[str] | None] = {
    "NONE": None,
    "AUTH": set(),
    "SRV": {"g.manage_servers", "g.read_servers"},
    "USR-R": {"g.manage_users", "g.read_users"},
    "USR-M": {"g.manage_users"},
    "STR-L": _STR_L,
    "STR-R": _STR_L | {"s.manage_stream", "s.read_stream"},
    "STR-C": {"g.manage_streams"},
    "STR-M": {"g.manage_streams", "s.manage_stream"},
    "TOP-R": _TOP_R_STREAM | {"t.manage_topic", "t.read_topic"},
    "TOP-R-stream": _TOP_R_STREAM,  # list commands: no topic-level grant
    "TOP-C": _TOP_C,
    "TOP-M": _TOP_C | {"t.manage_topic"},
    "POLL": {"g.poll_messages", "g.read_topics", "g.manage_topics", "g.read_streams", "g.manage_streams",
             "s.manage_stream", "s.read_stream", "s.manage_topics", "s.read_topics", "s.poll_messages",
             "t.manage_topic", "t.read_topic", "t.poll_messages"},
    "SEND": {"g.send_messages", "g.manage_streams", "g.manage_topics", "s.manage_stream", "s.manage_topics",
             "s.send_messages", "t.manage_topic", "t.send_messages"},
}
# whippet's own commands (docs/ARCHITECTURE.md) use the labels above: SEND_MESSAGES_APPENDED (9004)
# is a send (SEND); GET_PARTITION_STATES (9005), GET_CONSUMER_ASSIGNMENT (9006) and GET_TOPIC_ACK
# (9003) read a topic (TOP-R); SET_TOPIC_ACK (9002) manages it (TOP-M). GET_PARTITION_LEADERS
# (9001), asked for one topic, answers whoever may read, poll or send to it:
LABELS["ROUTE"] = LABELS["TOP-R"] | LABELS["POLL"] | LABELS["SEND"]  # type: ignore[operator]

#: Where whippet is deliberately stricter than 0.8, with the reason (docs/SECURITY.md repeats it):
#: command name -> (whippet's label, why). A departure may only ever narrow who is allowed.
DEPARTURES: dict[str, tuple[str, str]] = {
    "snapshot": ("SRV", "the diagnostics snapshot holds the node's configuration and Raft state; 0.8 gives it to "
                        "any logged-in user, whippet to those who may read server information"),
}


def allows(label: str, flags: frozenset[str], logged_in: bool) -> bool:
    """Whether a principal holding ``flags`` may run a command of ``label``."""
    granted = LABELS[label]
    if granted is None:
        return True
    if not logged_in:
        return False
    return not granted or bool(granted & flags)
