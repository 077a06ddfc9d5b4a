"""A thin synchronous wrapper for scripts: the asyncio client on a private loop thread.

    with SyncClient(["127.0.0.1:8090"], username="iggy", password="iggy") as client:
        client.create_stream("dev")
        client.send_messages("dev", "events", [b"hello"])
        producer = client.producer("dev", "events").batch_length(100).build()
        producer.init(); producer.send([b"a", b"b"]); producer.close()
        for message in client.consumer("c1", "dev", "events").build().init():
            ...

Every coroutine method of :class:`Client`, :class:`Producer` and
:class:`Consumer` becomes a blocking call; builders chain as usual; a consumer
iterates with a plain ``for``. Calls from several threads are serialised by the
loop thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from whippet.sdk.client import Client
from whippet.sdk.consumer import Consumer, ConsumerBuilder
from whippet.sdk.producer import Producer, ProducerBuilder

__all__ = ["SyncClient"]

T = TypeVar("T")
_WRAPPED = (Client, Producer, ProducerBuilder, Consumer, ConsumerBuilder)


class _Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="whippet-sdk", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class _Proxy:
    """Blocking view of an SDK object: coroutine methods run on the loop thread."""

    def __init__(self, target: Any, loop: _Loop) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_loop", loop)

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, _WRAPPED):
            return _Proxy(value, self._loop)
        return value

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):
            def call(*args: Any, **kwargs: Any) -> Any:
                return self._wrap(self._loop.run(attr(*args, **kwargs)))

            return call
        if callable(attr):
            def plain(*args: Any, **kwargs: Any) -> Any:
                return self._wrap(attr(*args, **kwargs))

            return plain
        return attr

    def __iter__(self) -> Iterator[Any]:
        target = self._target
        while True:
            try:
                yield self._loop.run(target.__anext__())
            except StopAsyncIteration:
                return


class SyncClient(_Proxy):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        loop = _Loop()

        async def make() -> Client:
            if len(args) == 1 and isinstance(args[0], str) and "://" in args[0]:
                return Client.from_connection_string(args[0], **kwargs)
            return Client(*args, **kwargs)

        super().__init__(loop.run(make()), loop)

    def __enter__(self) -> SyncClient:
        self._loop.run(self._target.connect())
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._loop.run(self._target.close())
        finally:
            self._loop.stop()
