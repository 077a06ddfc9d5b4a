"""The partition log engine: segments, indexes, recovery, retention, consumer offsets.

Concurrency model: synchronous, single writer per partition. Blocking fsyncs are
the caller's to move off the event loop (see ``storage.flusher``).
"""
