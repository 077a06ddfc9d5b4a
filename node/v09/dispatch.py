"""One 0.9 request: session rules, decode, the shared handler, the 0.9 reply (protocol 0.9 §1-§3).

:func:`answer09` is to a 0.9 connection what ``node.transports.binary.answer`` is
to a 0.8 one, and every binary transport calls it through
``node.transports.sniff``. The rules, in order:

- ``client`` must be non-zero and ``operation`` known: else Eviction 4.
- Register (1) gates the protocol version (Eviction 14), logs in with the
  shared login handlers (Evictions 9, 10, 11, 15 for the failures) and binds
  the connection to the client id and a fresh session number.
- Everything but Ping needs a login: a NonReplicated request gets status 40,
  anything else Eviction 1. A replicated request must carry the bound session
  (else Eviction 12) and a request number above 0.
- A non-zero ``request_checksum`` must be the XXH3 of the body (status 4).
- Metadata writes run inside ``dedup.client_request``, so the replicated
  client table applies each (client, request) once.

Errors of the handlers go back as the reply's ``status`` with an empty body,
which the SDK accepts for every operation.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import xxhash

from whippet.node import dispatch as shared
from whippet.node.v09 import commands
from whippet.node.v09.dedup import client_request
from whippet.node.v09.replies import translate
from whippet.node.v09.session import Binding, counters
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire.errors import (
    IggyError,
    InvalidCredentials,
    InvalidFormat,
    NotLeader,
    PersonalAccessTokenExpired,
    ResourceNotFound,
    Unauthenticated,
    UserInactive,
)
from whippet.wire.v09 import requests as r09
from whippet.wire.v09 import responses as out09
from whippet.wire.v09.errors import TransientNotAccepted
from whippet.wire.v09.header import (
    Eviction,
    Operation,
    RequestHeader,
    encode_eviction,
    encode_reply,
    version_accepted,
)

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["answer09", "patched_update"]

log = logging.getLogger(__name__)

_OPERATIONS = {int(op) for op in Operation} - {Operation.RESERVED}
_LEGACY_LOGINS = {codes.LOGIN_USER, codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN, codes.LOGOUT_USER}


class _Evict(Exception):
    def __init__(self, reason: Eviction) -> None:
        super().__init__(reason.name)
        self.reason = reason


def _reply(hdr: RequestHeader, body: Any = b"", *, status: int = 0, commit: int = 0) -> list[Any]:
    parts = [body] if isinstance(body, (bytes, bytearray, memoryview)) else list(body)
    size = sum(len(p) for p in parts)
    return [encode_reply(hdr, size, status=status, commit=commit, op=commit), *[p for p in parts if len(p)]]


async def answer09(node: Node, session: Session, hdr: RequestHeader, body: memoryview) -> tuple[list[Any], bool]:
    """Run one 0.9 request; return the reply (or eviction) buffers and whether to close."""
    started_code = hdr.code if hdr.operation == Operation.NON_REPLICATED else -hdr.operation
    try:
        return await _answer(node, session, hdr, body), False
    except asyncio.CancelledError:
        raise
    except _Evict as exc:
        return [encode_eviction(hdr, exc.reason)], False
    except IggyError as exc:
        return _reply(hdr, status=_status(exc)), False
    except Exception:  # every failure becomes a status, here only
        log.exception("unexpected error in a 0.9 request (code/op %d)", started_code)
        return _reply(hdr, status=1), False


def _status(exc: IggyError) -> int:
    # A partition without a reachable leader: nothing was applied, the SDK may walk the roster.
    if isinstance(exc, NotLeader):
        return TransientNotAccepted.code
    return exc.status


async def _answer(node: Node, session: Session, hdr: RequestHeader, body: memoryview) -> list[Any]:
    op = hdr.operation
    if hdr.client == 0 or op not in _OPERATIONS:
        raise _Evict(Eviction.INVALID_REQUEST_OPERATION)
    if op == Operation.REGISTER:
        return await _register(node, session, hdr, body)
    if op == Operation.NON_REPLICATED:
        return await _non_replicated(node, session, hdr, body)
    binding = _require_session(session, hdr)
    _check_checksum(hdr, body)
    if op == Operation.LOGOUT:
        session.user_id = None
        session.v09 = None
        session.member_of = None
        return _reply(hdr)
    code = r09.OPERATION_CODES[op]
    if op == Operation.SEND_MESSAGES:
        return _reply(hdr, await commands.send(node, session, body))
    request = r09.decode_request(code, body)
    if op in (Operation.STORE_CONSUMER_OFFSET, Operation.DELETE_CONSUMER_OFFSET):
        await commands.offset_write(node, session, code, request)
        return _reply(hdr, out09.result_ok())
    if code == codes.UPDATE_TOPIC:
        request = patched_update(node, request)
    with client_request(binding.client, hdr.request, hdr.request_checksum):
        reply = await shared.dispatch(node, session, code, body, request=request)
    payload = translate(node, code, request, reply)
    return _reply(hdr, out09.result_ok(bytes(payload) if not isinstance(payload, list) else b"".join(payload)),
                  commit=counters(node).metadata_written())


def _require_session(session: Session, hdr: RequestHeader) -> Binding:
    binding = session.v09
    if binding is None or session.user_id is None:
        raise _Evict(Eviction.NO_SESSION)
    if hdr.session != binding.session or hdr.client != binding.client:
        raise _Evict(Eviction.SESSION_ERROR)
    if hdr.request == 0:
        raise _Evict(Eviction.INVALID_REQUEST_OPERATION)
    binding.last_request = max(binding.last_request, hdr.request)
    return binding


def _check_checksum(hdr: RequestHeader, body: memoryview) -> None:
    if hdr.request_checksum and hdr.request_checksum != xxhash.xxh3_64_intdigest(body):
        raise InvalidFormat("request_checksum does not match the body")


async def _non_replicated(node: Node, session: Session, hdr: RequestHeader, body: memoryview) -> list[Any]:
    code = hdr.code
    if code in _LEGACY_LOGINS:
        raise _Evict(Eviction.MALFORMED_LOGIN)
    if code != codes.PING and session.user_id is None:
        raise Unauthenticated()
    _check_checksum(hdr, body)
    request = r09.decode_request(code, body)
    own = commands.COMMANDS.get(code)
    if own is not None:
        return _reply(hdr, await own(node, session, request))
    reply = await shared.dispatch(node, session, code, body, request=request)
    return _reply(hdr, translate(node, code, request, reply))


_LOGIN_EVICTIONS: dict[type[IggyError], Eviction] = {
    InvalidCredentials: Eviction.INVALID_CREDENTIALS,
    UserInactive: Eviction.USER_INACTIVE,
}
_TOKEN_EVICTIONS: dict[type[IggyError], Eviction] = {
    InvalidCredentials: Eviction.INVALID_TOKEN,
    ResourceNotFound: Eviction.INVALID_TOKEN,
    PersonalAccessTokenExpired: Eviction.INVALID_TOKEN,
    UserInactive: Eviction.USER_INACTIVE,
}


async def _register(node: Node, session: Session, hdr: RequestHeader, body: memoryview) -> list[Any]:
    """Login (code 40) or login with a token (45): gate, authenticate, bind."""
    if hdr.request != 0 or hdr.session != 0:
        raise _Evict(Eviction.SESSION_ERROR)
    _check_checksum(hdr, body)
    try:
        version = r09.decode_login_version(body)
    except IggyError:
        raise _Evict(Eviction.MALFORMED_LOGIN) from None
    if not version_accepted(version):
        raise _Evict(Eviction.INCOMPATIBLE_PROTOCOL)
    try:
        login = r09.decode_login(body)
    except IggyError:
        raise _Evict(Eviction.MALFORMED_LOGIN) from None
    if login.token is not None:
        request: Any = rq.LoginWithPersonalAccessToken(token=login.token)
        code, evictions = codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN, _TOKEN_EVICTIONS
    else:
        request = rq.LoginUser(username=login.username or "", password=login.password or "")
        code, evictions = codes.LOGIN_USER, _LOGIN_EVICTIONS
    session.user_id = None
    session.v09 = None
    session.member_of = None
    for attempt in (1, 2):
        try:
            await shared.dispatch(node, session, code, body, request=request)
            break
        except IggyError as exc:
            reason = evictions.get(type(exc))
            if reason is None:
                raise
            if attempt == 1 and reason != Eviction.USER_INACTIVE and not node.meta.is_leader:
                # A user created, or a password or token changed, through the leader a moment
                # ago may not have reached this replica: catch up once before refusing.
                await node.meta.barrier()
                continue
            raise _Evict(reason) from None
    assert session.user_id is not None
    binding = Binding(client=hdr.client, session=counters(node).next_session())
    session.v09 = binding
    return _reply(hdr, out09.result_ok(out09.login_reply(session.user_id, binding.session)), commit=binding.session)


def patched_update(node: Node, req: rq.UpdateTopic) -> rq.UpdateTopic:
    """A 0.9 UpdateTopic patches: settings whose key is absent keep the topic's value."""
    given = {k for k, _, _ in req.options}
    with node.meta.lock:
        topic = node.meta.machine.topic(req.stream_id.value, req.topic_id.value)
        return rq.UpdateTopic(
            stream_id=req.stream_id, topic_id=req.topic_id,
            compression=req.compression if "compression_algorithm" in given else topic.compression,
            message_expiry=req.message_expiry if "message_expiry" in given else topic.message_expiry,
            max_topic_size=req.max_topic_size if "max_topic_size" in given else topic.max_topic_size,
            replication_factor=topic.replication_factor, name=req.name, options=req.options,
        )  # fmt: skip
