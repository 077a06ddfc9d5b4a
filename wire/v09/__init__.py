"""The Iggy 0.9 binary protocol (binary protocol 0.11.0), sans-IO, beside the 0.8 codec.

A 0.9 connection carries 256-byte consensus-style headers instead of 0.8's
``[length][code]`` frames (``shared/docs/iggy-0.9-protocol.md``). This package
turns them into the request objects the 0.8 codec already produces
(:mod:`whippet.wire.requests`), so the node's handlers serve both versions, and
encodes the 0.9 reply layouts. A later wire version is another package beside
this one, not a change to the handlers.

Modules: ``header`` (request/reply/eviction headers, operations, the protocol
version gate, the frame reader and the first-bytes test), ``options`` (option
blocks and the topic option catalog), ``requests`` (0.9 payloads to shared
request objects), ``responses`` (0.9 reply layouts), ``batch`` (0.9 message
batches to and from the 0.8 record format, with numpy), ``errors`` (codes that
exist only from 0.9 on).

Concurrency model: pure functions and small synchronous objects, like
:mod:`whippet.wire`.
"""
