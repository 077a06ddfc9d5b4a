"""Command codes of the Iggy 0.8 binary protocol (protocol reference §3).

One plain ``int`` per command, so a code can be compared with the ``u32`` read off
a frame without conversion. Which codes exist, what they are called and how they
are decoded is recorded once, in :mod:`whippet.wire.table`; this module only names
the numbers.
"""

from __future__ import annotations

from typing import Final

# System
PING: Final = 1
GET_STATS: Final = 10
GET_SNAPSHOT_FILE: Final = 11
GET_CLUSTER_METADATA: Final = 12
GET_ME: Final = 20
GET_CLIENT: Final = 21
GET_CLIENTS: Final = 22

# Users
GET_USER: Final = 31
GET_USERS: Final = 32
CREATE_USER: Final = 33
DELETE_USER: Final = 34
UPDATE_USER: Final = 35
UPDATE_PERMISSIONS: Final = 36
CHANGE_PASSWORD: Final = 37
LOGIN_USER: Final = 38
LOGOUT_USER: Final = 39

# Personal access tokens
GET_PERSONAL_ACCESS_TOKENS: Final = 41
CREATE_PERSONAL_ACCESS_TOKEN: Final = 42
DELETE_PERSONAL_ACCESS_TOKEN: Final = 43
LOGIN_WITH_PERSONAL_ACCESS_TOKEN: Final = 44

# Messages
POLL_MESSAGES: Final = 100
SEND_MESSAGES: Final = 101
FLUSH_UNSAVED_BUFFER: Final = 102

# Consumer offsets
GET_CONSUMER_OFFSET: Final = 120
STORE_CONSUMER_OFFSET: Final = 121
DELETE_CONSUMER_OFFSET: Final = 122

# Streams
GET_STREAM: Final = 200
GET_STREAMS: Final = 201
CREATE_STREAM: Final = 202
DELETE_STREAM: Final = 203
UPDATE_STREAM: Final = 204
PURGE_STREAM: Final = 205

# Topics
GET_TOPIC: Final = 300
GET_TOPICS: Final = 301
CREATE_TOPIC: Final = 302
DELETE_TOPIC: Final = 303
UPDATE_TOPIC: Final = 304
PURGE_TOPIC: Final = 305

# Partitions and segments (400/401 and 500-502 are not defined at 0.8)
CREATE_PARTITIONS: Final = 402
DELETE_PARTITIONS: Final = 403
DELETE_SEGMENTS: Final = 503

# Consumer groups
GET_CONSUMER_GROUP: Final = 600
GET_CONSUMER_GROUPS: Final = 601
CREATE_CONSUMER_GROUP: Final = 602
DELETE_CONSUMER_GROUP: Final = 603
JOIN_CONSUMER_GROUP: Final = 604
LEAVE_CONSUMER_GROUP: Final = 605

# whippet's own commands, outside Iggy 0.8's table (a 0.8 server answers them with
# InvalidCommand, 3, so a client can probe for them safely).
GET_PARTITION_LEADERS: Final = 9001
SET_TOPIC_ACK: Final = 9002
GET_TOPIC_ACK: Final = 9003
#: SendMessages (same payload as 101) answered with where the batch went (:class:`Appended`)
SEND_MESSAGES_APPENDED: Final = 9004
#: each partition's leader, replicas, in-sync set, high watermark and size, as its leader sees them
GET_PARTITION_STATES: Final = 9005
#: the calling session's own membership in a consumer group: member id and partitions
GET_CONSUMER_ASSIGNMENT: Final = 9006
#: a 0.9 client's PollMessages (same payload as 100) forwarded to the partition leader,
#: answered in the 0.9 poll layout (batch records)
POLL_MESSAGES_V09: Final = 9007
