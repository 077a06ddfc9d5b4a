"""One frozen dataclass per command of protocol §3, with ``CODE``, ``decode`` and ``encode``.

The classes live in three modules by resource and are re-exported here, so callers
write ``from whippet.wire import requests as rq`` and ``rq.CreateTopic``. Decoding
raises only :class:`~whippet.wire.errors.IggyError` subclasses: 3 for truncated
input, bad UTF-8 or an unknown enum value, 4 for failed validation. Trailing bytes
are tolerated.
"""

from __future__ import annotations

from whippet.wire._fields import WireStruct
from whippet.wire.requests_messages import *  # noqa: F403
from whippet.wire.requests_messages import __all__ as _messages
from whippet.wire.requests_streams import *  # noqa: F403
from whippet.wire.requests_streams import __all__ as _streams
from whippet.wire.requests_system import *  # noqa: F403
from whippet.wire.requests_system import __all__ as _system

__all__ = ["WireStruct", *_system, *_messages, *_streams]
