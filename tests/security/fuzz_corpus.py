"""The frame fuzzer's corpus: seed frames from the codec's own encoders, and their mutations.

Sans-IO and deterministic (a ``random.Random`` seed gives the same frames every run).
Seeds are every request of ``tests/unit/wire/wire_samples.py`` plus requests aimed at
the objects the fuzz target really holds (stream ``fz``, topic ``t``, group ``g``, users
``iggy`` and ``fuzzer``), so mutations reach the handlers and their permission checks,
not only the decoders.

Each generated :class:`Case` says how the stream stays framed after it:

- ``aligned``: a whole frame whose length field matches its bytes; the node owes exactly
  one answer and the connection stays in step (mutated payloads, every truncation of a
  payload with the length fixed up, extensions, code swaps, splices, random payloads);
- ``closing``: a frame the node must refuse from its header (length below 4, over the
  transport's limit, a control payload over 10 MiB); it answers once, then closes;
- ``tail``: raw bytes after which nothing on the connection is in step (random bytes, a
  frame cut inside its header or payload, a length field that disagrees with the bytes);
  sent last on a connection, which is then closed.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from tests.unit.wire.wire_samples import REQUESTS
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.batch import build_send_messages
from whippet.wire.framing import MAX_CONTROL_PAYLOAD, encode_request
from whippet.wire.permissions import GlobalPermissions, Permissions
from whippet.wire.primitives import Consumer, Identifier, Partitioning, PollingStrategy
from whippet.wire.table import COMMAND_TABLE

__all__ = ["FUZZ_PASSWORD", "Case", "Mutator", "fuzz_user", "seed_frames"]

#: the unprivileged users the "user" fuzz clients log in as (no permissions at all), one per
#: client so two clients never race on one account's tokens; the corpus' login seed names
#: "fuzzer", which does not exist
FUZZ_PASSWORD = "fuzzer-pw"


def fuzz_user(worker: int) -> tuple[str, str]:
    return f"fuzzer-{worker}", FUZZ_PASSWORD
_HEAD = struct.Struct("<II")
_INTERESTING = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 1000, 1001, 4096]


@dataclass(frozen=True, slots=True)
class Case:
    kind: str  # "aligned", "closing" or "tail"
    frame: bytes
    how: str  # which mutator made it (reports)

    @property
    def code(self) -> int:
        return _HEAD.unpack_from(self.frame)[1] if len(self.frame) >= 8 else -1


def _aimed() -> list[rq.WireStruct]:
    """Requests at the fuzz target's real objects (by name and by numeric id)."""
    out: list[rq.WireStruct] = []
    for s, t, g in ((Identifier("fz"), Identifier("t"), Identifier("g")), (Identifier(0), Identifier(0),
                                                                              Identifier(0))):
        c1, cg = Consumer.consumer(Identifier(1)), Consumer.group(g)
        out += [
            rq.GetStream(stream_id=s), rq.UpdateStream(stream_id=s, name="owned"), rq.DeleteStream(stream_id=s),
            rq.PurgeStream(stream_id=s), rq.GetTopics(stream_id=s), rq.GetTopic(stream_id=s, topic_id=t),
            rq.CreateTopic(stream_id=s, partitions_count=2, compression=1, message_expiry=0, max_topic_size=0,
                           replication_factor=0, name="t2"),
            rq.UpdateTopic(stream_id=s, topic_id=t, compression=2, message_expiry=1, max_topic_size=0,
                           replication_factor=1, name="t3"),
            rq.DeleteTopic(stream_id=s, topic_id=t), rq.PurgeTopic(stream_id=s, topic_id=t),
            rq.CreatePartitions(stream_id=s, topic_id=t, partitions_count=3),
            rq.DeletePartitions(stream_id=s, topic_id=t, partitions_count=1),
            rq.DeleteSegments(stream_id=s, topic_id=t, partition_id=0, segments_count=1),
            rq.GetConsumerGroups(stream_id=s, topic_id=t), rq.GetConsumerGroup(stream_id=s, topic_id=t, group_id=g),
            rq.CreateConsumerGroup(stream_id=s, topic_id=t, name="g2"),
            rq.DeleteConsumerGroup(stream_id=s, topic_id=t, group_id=g),
            rq.JoinConsumerGroup(stream_id=s, topic_id=t, group_id=g),
            rq.LeaveConsumerGroup(stream_id=s, topic_id=t, group_id=g),
            rq.PollMessages(consumer=c1, stream_id=s, topic_id=t, partition_id=0, strategy=PollingStrategy.offset(0),
                            count=10, auto_commit=True),
            rq.PollMessages(consumer=cg, stream_id=s, topic_id=t, partition_id=None, strategy=PollingStrategy.next(),
                            count=10, auto_commit=True),
            rq.FlushUnsavedBuffer(stream_id=s, topic_id=t, partition_id=0, fsync=True),
            rq.GetConsumerOffset(consumer=c1, stream_id=s, topic_id=t, partition_id=0),
            rq.StoreConsumerOffset(consumer=c1, stream_id=s, topic_id=t, partition_id=0, offset=1),
            rq.StoreConsumerOffset(consumer=cg, stream_id=s, topic_id=t, partition_id=None, offset=1),
            rq.DeleteConsumerOffset(consumer=c1, stream_id=s, topic_id=t, partition_id=0),
            rq.SetTopicAck(stream_id=s, topic_id=t, ack="leader"), rq.GetTopicAck(stream_id=s, topic_id=t),
            rq.GetPartitionLeaders(stream_id=s, topic_id=t),
            rq.GetPartitionStates(stream_id=s, topic_id=t, partitions=[0, 1]),
            rq.GetConsumerAssignment(stream_id=s, topic_id=t, group_id=g),
        ]
    root_perms = Permissions(global_=GlobalPermissions(**{f: True for f in GlobalPermissions.__dataclass_fields__}))
    for user in (Identifier("fuzzer-1"), Identifier("iggy"), Identifier(0), Identifier(1), Identifier(2)):
        out += [
            rq.GetUser(user_id=user), rq.DeleteUser(user_id=user),
            rq.UpdateUser(user_id=user, username="renamed", status=2),
            rq.UpdatePermissions(user_id=user, permissions=root_perms),
            rq.ChangePassword(user_id=user, current_password="not-it", new_password="owned"),
        ]
    out += [
        rq.CreateUser(username="intruder", password="intruder", status=1, permissions=root_perms),
        rq.CreateStream(name="intruder"), rq.GetStreams(), rq.GetUsers(), rq.GetClients(), rq.GetClient(client_id=1),
        rq.GetStats(), rq.GetSnapshotFile(compression=1, snapshot_types=(100,)),
        rq.LoginUser(username="fuzzer", password=FUZZ_PASSWORD, version="fuzz", context=None),
        rq.LoginUser(username="fuzzer-1", password="not-it", version="fuzz", context=None),
        rq.LoginUser(username="iggy", password="not-the-password", version="fuzz", context=None),
        rq.LoginWithPersonalAccessToken(token="A" * 68), rq.LogoutUser(),
        rq.CreatePersonalAccessToken(name="fuzz-token", expiry=0),
        rq.DeletePersonalAccessToken(name="fuzz-token"), rq.GetPersonalAccessTokens(),
    ]
    return out


def _sends() -> list[bytes]:
    frames = []
    for s, t in ((Identifier("fz"), Identifier("t")), (Identifier(0), Identifier(0))):
        for part in (Partitioning.partition_id(0), Partitioning.balanced(), Partitioning.messages_key(b"k")):
            body = build_send_messages(s, t, part, [(0, b"fuzz", b"", 0), (7, b"x" * 100, b"", 0)])
            frames.append(encode_request(codes.SEND_MESSAGES, body))
            frames.append(encode_request(codes.SEND_MESSAGES_APPENDED, body))
    return frames


#: logins hash a password (tens of ms): kept rarer than the rest so the run measures the codec
_SLOW_SEED_WEIGHT = 0.1


def seed_frames() -> list[tuple[bytes, float]]:
    """(frame, weight) of every seed."""
    requests = [*REQUESTS, *_aimed()]
    seeds = [(encode_request(r.CODE, r.encode()), _SLOW_SEED_WEIGHT if r.CODE == codes.LOGIN_USER else 1.0)
             for r in requests]
    # whippet's own 0.9-format poll (9007) takes a PollMessages payload
    seeds += [(encode_request(codes.POLL_MESSAGES_V09, r.encode()), 1.0) for r in requests
              if r.CODE == codes.POLL_MESSAGES]
    return seeds + [(f, 1.0) for f in _sends()]


class Mutator:
    """Endless :class:`Case` s from the seeds, reproducibly from ``seed``."""

    def __init__(self, seed: int, max_frame: int) -> None:
        self.rng = random.Random(seed)
        seeds = seed_frames()
        self.seeds = [f for f, _ in seeds]
        self.weights = [w for _, w in seeds]
        self.max_frame = max_frame
        self.codes = sorted(COMMAND_TABLE)
        self._aligned = [
            (self._flip_bits, 6), (self._interesting_ints, 6), (self._truncate, 5), (self._extend, 2),
            (self._swap_code, 3), (self._splice, 2), (self._random_payload, 2), (self._seed, 1),
            (self._unknown_code, 1),
        ]
        self._aligned_fns = [f for f, _ in self._aligned]
        self._aligned_w = [w for _, w in self._aligned]
        self._truncations = self._every_truncation()

    def _pick(self) -> bytes:
        return self.rng.choices(self.seeds, self.weights)[0]

    @staticmethod
    def _frame(code: int, payload: bytes) -> bytes:
        return _HEAD.pack(len(payload) + 4, code) + payload

    @staticmethod
    def _parts(frame: bytes) -> tuple[int, bytes]:
        return _HEAD.unpack_from(frame)[1], frame[8:]

    def _every_truncation(self) -> Iterator[tuple[int, bytes]]:
        """Each seed's payload cut at every length in turn (then again, forever)."""
        while True:
            for frame in self.seeds:
                code, payload = self._parts(frame)
                for cut in range(len(payload)):
                    yield code, payload[:cut]

    # --- aligned ---------------------------------------------------------------------------
    def _seed(self) -> tuple[int, bytes, str]:
        code, payload = self._parts(self._pick())
        return code, payload, "seed"

    def _flip_bits(self) -> tuple[int, bytes, str]:
        code, payload = self._parts(self._pick())
        data = bytearray(payload)
        for _ in range(self.rng.randint(1, 8) if data else 0):
            data[self.rng.randrange(len(data))] ^= 1 << self.rng.randrange(8)
        return code, bytes(data), "bit-flip"

    def _interesting_ints(self) -> tuple[int, bytes, str]:
        code, payload = self._parts(self._pick())
        data = bytearray(payload)
        for _ in range(self.rng.randint(1, 3)):
            width = self.rng.choice((1, 2, 4, 8))
            if len(data) < width:
                break
            at = self.rng.randrange(len(data) - width + 1)
            value = self.rng.choice(_INTERESTING) & ((1 << (8 * width)) - 1)
            data[at:at + width] = value.to_bytes(width, "little")
        return code, bytes(data), "interesting-int"

    def _truncate(self) -> tuple[int, bytes, str]:
        code, payload = next(self._truncations)
        return code, payload, "truncated-payload"

    def _extend(self) -> tuple[int, bytes, str]:
        code, payload = self._parts(self._pick())
        return code, payload + self.rng.randbytes(self.rng.randint(1, 64)), "extended"

    def _swap_code(self) -> tuple[int, bytes, str]:
        _, payload = self._parts(self._pick())
        return self.rng.choice(self.codes), payload, "swapped-code"

    def _splice(self) -> tuple[int, bytes, str]:
        code, a = self._parts(self._pick())
        _, b = self._parts(self._pick())
        cut_a, cut_b = self.rng.randint(0, len(a)), self.rng.randint(0, len(b))
        return code, a[:cut_a] + b[cut_b:], "splice"

    def _random_payload(self) -> tuple[int, bytes, str]:
        return self.rng.choice(self.codes), self.rng.randbytes(self.rng.randint(0, 200)), "random-payload"

    def _unknown_code(self) -> tuple[int, bytes, str]:
        code = self.rng.choice((0, 2, 400, 401, 500, 501, 502, 9999, 0xFFFFFFFF, self.rng.getrandbits(32)))
        return code, self.rng.randbytes(self.rng.randint(0, 32)), "unknown-code"

    def aligned(self) -> Case:
        fn = self.rng.choices(self._aligned_fns, self._aligned_w)[0]
        code, payload, how = fn()
        if len(payload) + 4 > self.max_frame:
            payload = payload[: self.max_frame - 4]
        return Case("aligned", self._frame(code, payload), how)

    # --- closing and tails -------------------------------------------------------------------
    def closing(self) -> Case:
        choice = self.rng.randrange(3)
        if choice == 0:
            return Case("closing", _HEAD.pack(self.rng.randrange(4), self.rng.choice(self.codes)), "length-below-4")
        if choice == 1:
            length = self.rng.choice((self.max_frame + 1, 0x7FFFFFFF, 0xFFFFFFFF))
            return Case("closing", _HEAD.pack(length, codes.SEND_MESSAGES), "oversize-length")
        code = self.rng.choice([c for c in self.codes if c != codes.SEND_MESSAGES])
        return Case("closing", _HEAD.pack(MAX_CONTROL_PAYLOAD + 5 + self.rng.randrange(100), code),
                    "oversize-control")

    def tail(self) -> Case:
        choice = self.rng.randrange(4)
        frame = self._pick()
        if choice == 0:
            return Case("tail", self.rng.randbytes(self.rng.randint(1, 512)), "random-bytes")
        if choice == 1:
            return Case("tail", frame[: self.rng.randrange(1, 8)], "cut-in-header")
        if choice == 2 and len(frame) > 9:
            return Case("tail", frame[: self.rng.randrange(9, len(frame))], "cut-in-payload")
        code, payload = self._parts(frame)
        lie = max(4, len(payload) + 4 + self.rng.choice((-3, -1, 1, 7, 100)))
        return Case("tail", _HEAD.pack(lie, code) + payload, "length-mismatch")
