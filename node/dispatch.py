"""From a decoded frame to a reply: authentication gate, request decode, handler call.

Handlers register themselves with :func:`handler` under the command code that
``wire.table.COMMAND_TABLE`` defines; this module never lists codes itself. A
handler returns the OK payload as ``bytes`` or as a list of buffers (a poll
returns its 16-byte head and the file bytes separately so they are never joined
in Python). Errors propagate as :class:`IggyError`; each transport turns them
into a status frame in one place (:func:`error_frame`). Every request is counted
and timed here, once for all transports (``node.metrics``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Union

from whippet.wire.errors import IggyError, InvalidCommand, Unauthenticated
from whippet.wire.framing import encode_error, ok_header
from whippet.wire.table import COMMAND_TABLE

if TYPE_CHECKING:
    from whippet.node.server import Node
    from whippet.node.session import Session

__all__ = ["HANDLERS", "Reply", "dispatch", "error_frame", "handler", "reply_buffers"]

log = logging.getLogger(__name__)

Reply = Union[bytes, list[Any]]
Handler = Callable[["Node", "Session", Any], Awaitable[Reply]]
HANDLERS: dict[int, Handler] = {}


def handler(code: int) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of command ``code``."""

    def register(fn: Handler) -> Handler:
        if code not in COMMAND_TABLE:
            raise RuntimeError(f"handler for unknown command code {code}")
        if code in HANDLERS:
            raise RuntimeError(f"two handlers for command code {code}")
        HANDLERS[code] = fn
        return fn

    return register


_DECODE: Any = object()


async def dispatch(
    node: Node, session: Session, code: int, payload: memoryview, *, request: Any = _DECODE
) -> Reply:
    """Run one request; raises IggyError for any failure the client should see.

    ``request``: the request object when another codec (``wire.v09``) already
    decoded it; by default ``payload`` is decoded with the 0.8 codec.
    """
    spec = COMMAND_TABLE.get(code)
    fn = HANDLERS.get(code)
    if spec is None or fn is None:
        raise InvalidCommand(f"unknown command code {code}")
    started = time.perf_counter()
    try:
        if spec.needs_auth and session.user_id is None:
            raise Unauthenticated()
        if request is _DECODE:
            request = payload if spec.request is None else spec.request.decode(payload)
        return await fn(node, session, request)
    except Exception as exc:
        node.metrics.request_failed(spec.name, exc)
        raise
    finally:
        node.metrics.request(spec.name, session.transport, time.perf_counter() - started)


def reply_buffers(reply: Reply) -> list[Any]:
    """The OK response frame of ``reply`` as buffers for ``writelines``."""
    if isinstance(reply, (bytes, bytearray, memoryview)):
        return [ok_header(len(reply)), reply] if reply else [ok_header(0)]
    size = sum(len(part) for part in reply)
    return [ok_header(size), *reply]


def error_frame(exc: BaseException) -> bytes:
    """The status frame of a failure; unexpected exceptions are logged and sent as code 1."""
    if isinstance(exc, IggyError):
        return encode_error(exc.status)
    log.exception("unexpected error while handling a request", exc_info=exc)
    return encode_error(1)
