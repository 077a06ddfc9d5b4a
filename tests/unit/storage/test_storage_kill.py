"""A real kill -9: a child appends and prints each acknowledged offset until SIGKILLed.

After every kill the partition is reopened (recovery runs) and every offset the
child printed must be readable, intact and in sequence; the next round appends to
the same directory, so recovery output is itself recovered again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.storage.storage_helpers import checksum_ok, parse
from whippet.storage.log import LogConfig, PartitionLog

SEGMENT = 256 << 10

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import numpy as np

    sys.path.insert(0, sys.argv[3])
    from tests.unit.storage.test_storage_kill import expected_payload
    from tests.unit.storage.storage_helpers import batch
    from whippet.storage.log import LogConfig, PartitionLog

    log = PartitionLog.open(Path(sys.argv[1]), LogConfig(segment_size=int(sys.argv[2])))
    rng = np.random.default_rng(log.next_offset)
    print("ready", log.next_offset, flush=True)
    while True:
        first = log.next_offset
        count = int(rng.integers(1, 120))
        data, ends = batch([expected_payload(first + i) for i in range(count)])
        res = log.append(data, ends, 1_700_000_000_000_000 + first)
        print(res.last_offset, flush=True)
    """
)


def expected_payload(offset: int) -> bytes:
    size = 1 + (offset * 7919) % 3000
    unit = b"%d|" % offset
    return (unit * (size // len(unit) + 1))[:size]


def run_and_kill(directory: Path, script: Path, acks_before_kill: int) -> list[int]:
    repo = str(Path(__file__).resolve().parents[3])
    child = subprocess.Popen(
        [sys.executable, str(script), str(directory), str(SEGMENT), repo],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acked: list[int] = []
    try:
        header = child.stdout.readline()
        assert header.startswith("ready"), header
        while len(acked) < acks_before_kill:
            line = child.stdout.readline()
            assert line, "child died before being killed"
            acked.append(int(line))
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        rest = child.stdout.read()
        child.stdout.close()
    acked.extend(int(x) for x in rest.split() if x.strip())
    assert child.returncode == -signal.SIGKILL
    return acked


def test_every_acknowledged_offset_survives_sigkill(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    directory = tmp_path / "partition"
    acked_max = -1
    for acks in (15, 60, 5, 40):
        acked = run_and_kill(directory, script, acks)
        assert acked and acked == sorted(acked)
        acked_max = max(acked_max, acked[-1])
        log = PartitionLog.open(directory, LogConfig(segment_size=SEGMENT))
        try:
            assert log.next_offset > acked_max
            offset = 0
            while offset < log.next_offset:
                recs = parse(log.read(offset, 500).data)
                assert [r.offset for r in recs] == list(range(offset, offset + len(recs)))
                for r in recs:
                    assert checksum_ok(r) and r.payload == expected_payload(r.offset)
                offset += len(recs)
            assert offset == log.next_offset
        finally:
            log.close()
    assert len(list(directory.glob("*.log"))) > 1  # the run crossed segment rolls
