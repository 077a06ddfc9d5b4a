"""The Iggy 0.8 binary protocol, sans-IO.

Concurrency model: pure functions and small synchronous objects; no sockets, no
asyncio, no clocks (anything time-based takes ``now``). Used by node/ (server side)
and sdk/ (client side) alike.

Modules: ``framing`` (frames in and out), ``codes`` and ``table`` (the commands),
``primitives`` (ids, consumers, partitioning, polling, the permissions codec),
``permissions`` (the permission flags as data), ``ack`` (the producer ack
levels), ``requests`` and ``responses`` (one dataclass per payload layout),
``batch`` (SendMessages validation and record helpers, the hot path), ``headers``
(user headers), ``errors`` (status codes as exceptions, with their behaviour flags).

Imports nothing from the rest of whippet: metadata, node, replication, sdk and cli
stand on it (``tests/unit/test_import_graph.py``).
"""
