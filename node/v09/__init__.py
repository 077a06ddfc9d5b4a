"""Serving 0.9 clients: sessions, the request loop and the commands 0.8 did not have.

``dispatch.answer09`` takes one decoded 0.9 header and body (the transports hand
them over through ``node.transports.sniff``), checks the session rules, decodes
the body with ``wire.v09`` into the request objects the shared handlers take,
runs them through ``node.dispatch`` and encodes the 0.9 reply. Modules:
``session`` (the per-connection binding), ``dedup`` (metadata writes applied
once per client request), ``replies`` (0.8 replies re-encoded in 0.9 layouts),
``commands`` (0.9-only commands, sends and polls).
"""
