"""The limits' bookkeeping in memory, with the sweep driven by hand (no sockets, no sleeping)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from whippet.node.config import load_config
from whippet.node.transports.limits import Limits
from whippet.node.transports.sniff import Unreadable
from whippet.wire.errors import InvalidCommand
from whippet.wire.framing import RequestFrame, encode_request, request_header
from whippet.wire.v09.header import RequestHeader


def _limits(**settings: int) -> tuple[Limits, CollectorRegistry]:
    registry = CollectorRegistry()
    config = load_config(None, {k: v for k, v in settings.items()}, env={})
    limits = Limits(config, registry)
    limits.now = 0.0
    return limits, registry


def _count(registry: CollectorRegistry, limit: str, transport: str) -> float:
    value = registry.get_sample_value("whippet_limit_rejections_total", {"limit": limit, "transport": transport})
    return value or 0.0


class _Conn:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_connections_over_the_limit_are_refused_and_counted() -> None:
    limits, registry = _limits(limits_max_connections=2)
    a, b = limits.open("tcp", _Conn().close), limits.open("ws", _Conn().close)
    assert a is not None and b is not None
    assert limits.open("quic", _Conn().close) is None
    assert _count(registry, "connections", "quic") == 1
    a.release()
    a.release()  # idempotent
    assert limits.open_connections == 1 and limits.open("http", _Conn().close) is not None


def test_an_idle_connection_is_closed_after_the_timeout_and_activity_resets_it() -> None:
    limits, registry = _limits(limits_idle_timeout_s=5)
    conn = _Conn()
    guard = limits.open("tcp", conn.close)
    assert guard is not None
    assert limits.sweep(4.0) == 0
    guard.touch(10, False)
    assert limits.sweep(8.9) == 0 and conn.closed == 0
    assert limits.sweep(9.1) == 1 and conn.closed == 1
    assert _count(registry, "idle", "tcp") == 1 and limits.open_connections == 0
    assert limits.sweep(100.0) == 0  # released: never closed twice


def test_a_dribbled_request_is_cut_off_but_a_slow_large_one_earns_time() -> None:
    limits, registry = _limits(limits_request_timeout_s=10, limits_request_min_rate=100)
    slow, steady = _Conn(), _Conn()
    g_slow = limits.open("http", slow.close, awaiting=True)  # a new HTTP connection: its head is due
    g_steady = limits.open("ws", steady.close)
    assert g_slow is not None and g_steady is not None
    for t in range(1, 12):
        limits.now = float(t)
        g_slow.touch(1, True)  # one byte a second: slowloris
        g_steady.touch(200, True)  # 200 B/s against a 100 B/s minimum: each byte buys time
        limits.sweep(float(t))
    assert slow.closed == 1 and steady.closed == 0
    assert _count(registry, "slow_client", "http") == 1
    g_steady.touch(5, False)  # the request completed: no bound while nothing is half-received
    assert limits.sweep(500.0) == 0 and steady.closed == 0


def test_time_the_node_holds_a_connection_does_not_count_against_it() -> None:
    limits, _ = _limits(limits_request_timeout_s=2, limits_idle_timeout_s=3)
    conn = _Conn()
    guard = limits.open("tcp", conn.close)
    assert guard is not None
    guard.touch(3, True)
    guard.hold(True)  # the node paused reading (its queue is full)
    assert limits.sweep(60.0) == 0
    limits.now = 60.0
    guard.hold(False)  # resumed: the clocks restart now
    assert limits.sweep(61.0) == 0 and limits.sweep(62.5) == 1 and conn.closed == 1


def test_a_frame_over_the_transport_limit_is_refused_from_its_header_and_counted() -> None:
    limits, registry = _limits(tcp_max_frame_size=1024)
    reader = limits.reader("tcp")
    reader.feed(encode_request(1, b"x" * 1020))  # exactly the limit: length field = 1024
    frame = reader.next_frame()
    assert isinstance(frame, RequestFrame) and len(frame.payload) == 1020
    reader.feed(request_header(101, 1 << 30)[:4])  # 1 GiB SendMessages: refused from 4 bytes, nothing buffered
    assert reader.next_frame() == Unreadable(InvalidCommand.code)
    assert _count(registry, "frame_size", "tcp") == 1


def test_a_09_message_over_the_limit_is_refused_too() -> None:
    limits, registry = _limits(ws_max_frame_size=1024)
    reader = limits.reader("ws")
    header = RequestHeader(size=1 << 20, cluster=bytes(16), view=0, release=0, replica=0, client=1,
                           request_checksum=0, timestamp=0, request=1, operation=0, session=0, code=1)
    reader.feed(header.encode())  # a 1 MiB 0.9 message: refused from its header
    assert reader.next_frame() == Unreadable(None)  # a 0.9 stream just closes, as upstream
    assert _count(registry, "frame_size", "ws") == 1


def test_every_limit_series_exists_before_anything_happens() -> None:
    _, registry = _limits()
    for limit in ("frame_size", "connections", "idle", "slow_client"):
        for transport in ("tcp", "ws", "quic", "http"):
            assert _count(registry, limit, transport) == 0.0
            assert registry.get_sample_value(
                "whippet_limit_rejections_total", {"limit": limit, "transport": transport}) == 0.0
