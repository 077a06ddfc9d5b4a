"""A 0.8 and a 0.9 client on one topic of one node: each reads the other's messages exactly.

Producers: the official apache-iggy 0.8.0 SDK (server-assigned ids), whippet's
own 0.8 client (explicit ids, user headers and origin timestamps, which the 0.8
Python SDK cannot set) and the official apache-iggy 0.9.0 SDK (ids, headers).
The 0.9 SDK lives in its own venv (``.venv-iggy09``, ``make test-iggy09``), so it
runs as a subprocess that prints what it read as JSON. Every message must read
back with the same offset, id, payload, headers, timestamp, origin timestamp and
(stored) checksum through both protocols.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from apache_iggy import IggyClient, PollingStrategy, SendMessage

from tests.support.client import TestClient
from whippet.wire import codes
from whippet.wire import requests as rq
from whippet.wire._codec import Identifier
from whippet.wire.batch import build_send_messages
from whippet.wire.headers import HeaderKind, decode_user_headers, encode_user_headers
from whippet.wire.primitives import Partitioning
from whippet.wire.responses import TopicAck

pytestmark = pytest.mark.asyncio

SDK09 = Path(__file__).resolve().parents[2] / ".venv-iggy09" / "bin" / "python"

_V09_SCRIPT = r"""
import asyncio, json, os, sys
from apache_iggy import Consumer, IggyClient, PollingStrategy, SendMessage

async def main(address):
    c = IggyClient(address)
    await c.connect()
    await c.login_user("iggy", "iggy")
    await c.send_messages("mixed", "t", 0, [
        SendMessage(f"from-0.9-{i}", user_headers={"source": "v09", "n": str(i)}, id=0x0900 + i) for i in range(3)
    ])
    got = await c.poll_messages("mixed", "t", consumer=Consumer.Single(9), partition_id=0,
                                polling_strategy=PollingStrategy.Offset(0), count=100, auto_commit=False)
    out = []
    for m in got:
        headers = m.user_headers()
        out.append({"offset": m.offset(), "id": m.id(), "payload": m.payload().hex(), "timestamp": m.timestamp(),
                    "checksum": m.checksum(),
                    "origin": m.origin_timestamp(),
                    "headers": {} if headers is None else {str(k): str(v) for k, v in headers.to_scalar_dict().items()}})
    print(json.dumps(out), flush=True)

asyncio.run(main(sys.argv[1]))
os._exit(0)  # skip the SDK runtime's teardown (it can abort after the loop is gone)
"""


def _headers(raw: bytes) -> dict[str, str]:
    return {k.decode(): v.decode() for _, k, _, v in decode_user_headers(raw)} if raw else {}


async def test_a_08_and_a_09_client_read_each_others_messages(node) -> None:
    assert SDK09.exists(), "the 0.9 SDK venv is installed by `make test` (make .venv-iggy09/.installed)"
    sdk08 = IggyClient.from_connection_string(f"iggy://iggy:iggy@{node.address}")
    await sdk08.connect()
    await sdk08.login_user("iggy", "iggy")
    await sdk08.create_stream("mixed")
    await sdk08.create_topic("mixed", "t", partitions_count=1)
    await sdk08.send_messages("mixed", "t", 0, [SendMessage(f"from-0.8-sdk-{i}") for i in range(2)])
    raw08 = await TestClient.connect(node.address)
    headers = encode_user_headers([(HeaderKind.STRING, b"source", HeaderKind.STRING, b"v08"),
                                   (HeaderKind.STRING, b"z", HeaderKind.STRING, b"last")])  # fmt: skip
    body = build_send_messages(Identifier("mixed"), Identifier("t"), Partitioning.partition_id(0),
                               [(0x0800 + i, f"from-0.8-raw-{i}".encode(), headers, 1_000_000 + i) for i in range(2)])
    await raw08.conn.request(codes.SEND_MESSAGES, body)

    proc = await asyncio.create_subprocess_exec(str(SDK09), "-c", _V09_SCRIPT, node.address,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    seen09 = json.loads(out)

    _, polled = await raw08.poll("mixed", "t", 0, 0, 100)
    seen08 = [{"offset": m.offset, "id": m.id, "payload": m.payload.hex(), "timestamp": m.timestamp,
               "checksum": m.checksum,
               "origin": m.origin_timestamp, "headers": _headers(m.user_headers)} for m in polled]  # fmt: skip
    await raw08.close()
    assert len(seen08) == 7
    assert seen09 == seen08  # every field, every message, both directions
    by_source = [m["headers"].get("source") for m in seen08]
    assert by_source == [None, None, "v08", "v08", "v09", "v09", "v09"]
    assert [m["id"] for m in seen08[2:]] == [0x0800, 0x0801, 0x0900, 0x0901, 0x0902]
    assert [m["origin"] for m in seen08[2:4]] == [1_000_000, 1_000_001]

    # And the official 0.8 SDK reads the 0.9 client's messages too.
    got = await sdk08.poll_messages("mixed", "t", 0, PollingStrategy.Offset(0), 100, False)
    assert [(m.offset(), m.id(), m.payload().hex(), m.timestamp()) for m in got] == [
        (m["offset"], m["id"], m["payload"], m["timestamp"]) for m in seen09
    ]
    assert sys.version_info >= (3, 11)


_V09_HTTP_SCRIPT = r"""
import asyncio, json, os, sys
from apache_iggy import Durability, IggyClient

async def main(port):
    c = IggyClient.from_connection_string(f"iggy+http://iggy:iggy@127.0.0.1:{port}")
    await c.connect()
    await c.login_user("iggy", "iggy")
    await c.create_stream("web")
    await c.create_topic(stream="web", name="t", partitions_count=2, durability=Durability.PERSISTED,
                         options={"segment_size": "128 MiB"})
    await c.update_topic("web", "t", "t", options={"compression_algorithm": "gzip"})
    t = await c.get_topic("web", "t")
    print(json.dumps({"partitions": t.partitions_count, "compression": t.compression_algorithm,
                      "explicit": t.options.to_scalar_dict(), "derived": sorted(t.derived_options.to_scalar_dict())}),
          flush=True)

asyncio.run(main(sys.argv[1]))
os._exit(0)
"""


async def test_the_09_sdk_over_http_sets_and_reads_topic_options(node) -> None:
    proc = await asyncio.create_subprocess_exec(str(SDK09), "-c", _V09_HTTP_SCRIPT, str(node.http_port),
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    got = json.loads(out)
    assert got["partitions"] == 2 and got["compression"] == "gzip"
    assert got["explicit"]["durability"] == "persisted" and int(got["explicit"]["segment_size"]) == 128 << 20
    assert "max_topic_size" in got["derived"] and "durability" not in got["derived"]
    # The same topic as the 0.8 SDK reads it over HTTP (0.8 JSON keeps replication_factor).
    sdk08 = IggyClient.from_connection_string(f"iggy+http://iggy:iggy@127.0.0.1:{node.http_port}")
    await sdk08.connect()
    await sdk08.login_user("iggy", "iggy")
    topic = await sdk08.get_topic("web", "t")
    assert topic is not None and topic.partitions_count == 2
    # The durability option is the topic's ack level (whippet's GET_TOPIC_ACK says "all").
    c = await TestClient.connect(node.address)
    ack = TopicAck.decode(await c.call(rq.GetTopicAck(stream_id=Identifier("web"), topic_id=Identifier("t"))))
    await c.close()
    assert ack.ack == "all"
