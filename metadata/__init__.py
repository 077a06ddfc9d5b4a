"""Cluster metadata: a pure, deterministic state machine and its Raft binding.

Concurrency model: ``machine`` is synchronous and pure (no I/O, no clock); ``raft``
runs pysyncobj on its own thread and hands results back to the event loop.
"""
