"""The Iggy 0.8 binary protocol, sans-IO.

Concurrency model: pure functions and small synchronous objects; no sockets, no
asyncio, no clocks (anything time-based takes ``now``). Used by node/ (server side)
and sdk/ (client side) alike.
"""
