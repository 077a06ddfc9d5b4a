"""Cluster metadata: a pure, deterministic state machine and its Raft binding.

- ``model``: the plain data the machine holds; ``events``: what a command changed;
  ``commands``: versioned command bytes (what the Raft log stores).
- ``machine``: :class:`MetadataMachine`, the only mutator (``apply``) plus lookups.
- ``snapshot``: the state snapshot and Raft dump formats; ``journal``: the Raft log file.
- ``raft``: :class:`MetadataStore`, the asyncio facade and the only pysyncobj user.

Concurrency model: ``machine`` is synchronous and pure (no I/O, no clock). ``raft``
runs pysyncobj on one thread of its own, applies commands there under
``MetadataStore.lock``, and hands results and events back to the event loop with
``call_soon_threadsafe``. Readers on the loop take the same lock.
"""
