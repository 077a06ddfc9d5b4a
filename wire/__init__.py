"""The Iggy 0.8 binary protocol, sans-IO.

Concurrency model: pure functions and small synchronous objects; no sockets, no
asyncio, no clocks (anything time-based takes ``now``). Used by node/ (server side)
and sdk/ (client side) alike.

Modules: ``framing`` (frames in and out), ``codes`` and ``table`` (the commands),
``primitives`` (ids, consumers, partitioning, polling, permissions), ``requests``
and ``responses`` (one dataclass per payload layout), ``batch`` (SendMessages
validation and record helpers, the hot path), ``headers`` (user headers),
``errors`` (status codes as exceptions).
"""
