"""Failures as HTTP responses: the one place that maps Iggy error codes to status codes.

Iggy 0.8's HTTP layer answers an :class:`IggyError` with a JSON body
``{id, code, reason, field}`` and a status chosen by the error's kind: the
not-found family is 404, the token/authentication family 401, a permission
failure 403, and everything else 400 (``core/server/src/http/error.rs``). An
empty lookup (a GET of something that does not exist) has its own body with id
404 and code ``not_found``. Routes raise; :func:`error_response` renders, once.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from whippet.wire.errors import IggyError

__all__ = ["NotFound", "error_body", "error_response", "not_found_response", "status_of"]

log = logging.getLogger(__name__)

#: the request field an error points at, as 0.8 names it in ``field``
_FIELDS = {
    1009: "stream_id",
    2010: "topic_id",
    3007: "partition_id",
    4000: "segment_id",
    100: "client_id",
    1013: "name",
    1012: "name",
    2014: "name",
    2013: "name",
    1014: "stream_id",
    2016: "topic_id",
    4100: "offset",
    5002: "consumer_group_id",
    5004: "name",
    46: "username",
    51: "name",
}


class NotFound(Exception):
    """An empty lookup: 0.8's ``CustomError::ResourceNotFound`` (404, id 404)."""


def status_of(code: int) -> int:
    """The HTTP status 0.8 gives an Iggy error code (by the code's flags in ``wire.errors``)."""
    kind = IggyError.for_code(code)
    if kind.not_found:
        return 404
    if kind.unauthenticated:
        return 401
    if kind.forbidden:
        return 403
    return 400


def error_body(exc: IggyError) -> dict[str, Any]:
    return {"id": exc.status, "code": exc.name, "reason": exc.reason, "field": _FIELDS.get(exc.status)}


def error_response(exc: IggyError) -> web.Response:
    return web.json_response(error_body(exc), status=status_of(exc.status))


def not_found_response() -> web.Response:
    body = {"id": 404, "code": "not_found", "reason": "Resource not found", "field": None}
    return web.json_response(body, status=404)


def unexpected_response(exc: BaseException) -> web.Response:
    """A bug, not a client error: logged with its traceback, answered as Iggy's generic error 1."""
    log.error("unexpected error in an HTTP route", exc_info=exc)
    body = {"id": 1, "code": "error", "reason": "internal error", "field": None}
    return web.json_response(body, status=500)
