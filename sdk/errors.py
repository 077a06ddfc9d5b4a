"""The SDK's errors: the wire's classes, grouped into families a caller can catch.

Every failure the SDK raises is a :class:`whippet.wire.errors.IggyError` of the
status's own class (``StreamIdNotFound``, ``Unauthorized``, ...), as before, and
*also* an instance of the family it belongs to, so code can catch a kind of
failure without listing codes:

=========================  ==============================================================
:class:`NotFoundError`     the stream/topic/partition/group/user/... does not exist
:class:`AlreadyExistsError` a create named something that exists
:class:`AuthError`         not logged in, bad credentials or token, not allowed
:class:`InvalidRequestError` the node rejected a value (bad name, size, count, format)
:class:`RetriableError`    not applied and likely to succeed if repeated (a failover in
                           progress); the SDK itself already retried for ``failover_timeout``
:class:`TransportError`    no node reached, or the connection was lost
=========================  ==============================================================

How it works: for a status code the SDK builds (once, cached) a subclass of the
wire class with the family as a second base; ``except StreamIdNotFound`` and
``except NotFoundError`` both catch it, and ``err.status``/``err.name`` are
unchanged. Which code is in which family is decided here and only here
(:func:`families_of`). The connection errors the SDK raises itself are the
subclasses below (``ConnectionClosed``, ``CannotEstablishConnection``, ...).
"""

from __future__ import annotations

from functools import cache

from whippet.wire import errors as we

__all__ = [
    "AUTH_CODES",
    "AlreadyExistsError",
    "AuthError",
    "FAMILIES",
    "CannotEstablishConnection",
    "ClientShutdown",
    "ConnectionClosed",
    "InvalidRequestError",
    "NotConnected",
    "NotFoundError",
    "RetriableError",
    "TransportError",
    "error_class",
    "families_of",
    "from_status",
]


class NotFoundError(we.IggyError):
    """The thing a command names does not exist."""


class AlreadyExistsError(we.IggyError):
    """A create named something that already exists."""


class AuthError(we.IggyError):
    """Not authenticated, wrong credentials or token, or not allowed to do this."""


class InvalidRequestError(we.IggyError):
    """The node refused a value of the request (name, size, count, format)."""


class RetriableError(we.IggyError):
    """Not applied, and likely to succeed if sent again shortly (a leader is moving)."""


class TransportError(we.IggyError):
    """No node could be reached, or the connection was lost (the command may or may not have run)."""


#: every family, for code that sorts errors by family (the CLI's exit codes)
FAMILIES: tuple[type[we.IggyError], ...] = (
    NotFoundError, AlreadyExistsError, AuthError, InvalidRequestError, RetriableError, TransportError,
)

#: not logged in (40), not allowed (41), bad credentials (42-44), inactive user (47),
#: bad or expired personal access token (53, 54), missing or bad access token (77, 78)
AUTH_CODES = frozenset({40, 41, 42, 43, 44, 47, 53, 54, 77, 78})
_TRANSPORT_CODES = frozenset({8, 9, 61, 63, 206})
_INVALID_CODES = frozenset({3, 4, 6, 80, 81, 82, 83, 84})


def families_of(code: int) -> tuple[type[we.IggyError], ...]:
    """The families of a status code (the one place that decides them)."""
    name = we.error_name(code)
    base = we.IggyError._by_code.get(code)
    out: list[type[we.IggyError]] = []
    if code in AUTH_CODES:
        out.append(AuthError)
    elif code in _TRANSPORT_CODES:
        out.append(TransportError)
    elif code == 20 or name.endswith("_not_found"):
        out.append(NotFoundError)
    elif name.endswith("_already_exists"):
        out.append(AlreadyExistsError)
    elif code in _INVALID_CODES or name.startswith(("invalid_", "too_")):
        out.append(InvalidRequestError)
    if (base is not None and base.retriable) or name in ("not_leader", "replication_timeout", "task_timeout"):
        out.append(RetriableError)
    return tuple(out)


@cache
def error_class(code: int) -> type[we.IggyError]:
    """The class the SDK raises for ``code``: the wire's class (or IggyError) plus its families."""
    base = we.IggyError._by_code.get(code, we.IggyError)
    families = families_of(code)
    if not families:
        return base
    name = base.__name__ if base is not we.IggyError else "".join(p.title() for p in we.error_name(code).split("_"))
    # No ``code`` in the namespace: the wire's code -> class table stays as it is.
    return type(name, (base, *families), {"__module__": __name__, "__doc__": base.__doc__})


def from_status(code: int, reason: str = "") -> we.IggyError:
    """The error for a status frame, as the SDK raises it."""
    cls = error_class(code)
    if cls.code != code:  # an unnamed code: the generic class carries it per instance
        return cls(reason, code=code)
    return cls(reason)


ConnectionClosed = error_class(we.ConnectionClosed.code)
CannotEstablishConnection = error_class(we.CannotEstablishConnection.code)
ClientShutdown = error_class(we.ClientShutdown.code)
NotConnected = error_class(we.NotConnected.code)
