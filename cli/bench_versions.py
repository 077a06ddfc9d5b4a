"""``whippet-bench-versions``: the official 0.9 SDK against the official 0.8 SDK, one node, one run.

Both SDKs send N batches of 1000 messages of 1 KiB to their own one-partition
topic, then poll them all back ``--passes`` times in batches of 1000, through
the same node. The 0.8
SDK (``apache-iggy==0.8.0``) runs from the project venv and the 0.9 SDK
(``==0.9.0``, same distribution name) from ``.venv-iggy09``; each round runs the
same driver under both, alternating, and the report gives the medians and the
0.9/0.8 ratios (target: 0.9 at least 0.8x of 0.8), with the CPU time each side
spent per request (the client's process time, the node's from /proc), which says
whose code a gap in the rates comes from. Bounded: ``--batches``
batches per client per round, ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from whippet.procs import NodeProcess

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = {"0.8": Path(sys.executable), "0.9": ROOT / ".venv-iggy09" / "bin" / "python"}

_DRIVER = r"""
import asyncio, json, os, sys, time
import apache_iggy as iggy
V09 = hasattr(iggy, "Durability")

def node_cpu(pid):
    # utime + stime of the node, in seconds (fields 14 and 15 of /proc/PID/stat)
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

async def main(address, stream, batches, size, batch, passes, pid):
    c = iggy.IggyClient(address)
    await c.connect()
    await c.login_user("iggy", "iggy")
    await c.create_stream(stream)
    await c.create_topic(stream, "t", partitions_count=1)
    messages = [iggy.SendMessage(b"x" * size) for _ in range(batch)]
    started, cpu, ncpu = time.perf_counter(), time.process_time(), node_cpu(pid)
    for _ in range(batches):
        await c.send_messages(stream, "t", 0, messages)
    send_s = time.perf_counter() - started
    send_cpu, send_ncpu = time.process_time() - cpu, node_cpu(pid) - ncpu
    total = batches * batch
    started, cpu, ncpu = time.perf_counter(), time.process_time(), node_cpu(pid)
    for _ in range(passes):
      offset = 0
      while offset < total:
        if V09:
            got = await c.poll_messages(stream, "t", consumer=iggy.Consumer.Single(1), partition_id=0,
                                        polling_strategy=iggy.PollingStrategy.Offset(offset), count=batch,
                                        auto_commit=False)
        else:
            got = await c.poll_messages(stream, "t", 0, iggy.PollingStrategy.Offset(offset), batch, False)
        if not got:
            raise SystemExit(f"poll at {offset} returned nothing")
        offset += len(got)
    poll_s = time.perf_counter() - started
    poll_cpu, poll_ncpu = time.process_time() - cpu, node_cpu(pid) - ncpu
    polls = passes * total / batch
    print(json.dumps({"send": total / send_s, "poll": passes * total / poll_s,
                      "client_cpu_ms_per_send": 1e3 * send_cpu / batches, "node_cpu_ms_per_send": 1e3 * send_ncpu / batches,
                      "client_cpu_ms_per_poll": 1e3 * poll_cpu / polls, "node_cpu_ms_per_poll": 1e3 * poll_ncpu / polls}),
          flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:8])))
os._exit(0)  # the SDKs' runtimes may still hold the loop's sockets at interpreter teardown
"""


def _run(version: str, node: NodeProcess, stream: str, a: argparse.Namespace) -> dict[str, float]:
    assert node.proc is not None
    out = subprocess.run(
        [str(PYTHONS[version]), "-c", _DRIVER, node.address, stream, str(a.batches), str(a.size), str(a.batch),
         str(a.passes), str(node.proc.pid)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"the {version} driver failed:\n{out.stdout[-1000:]}{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100, help="batches of --batch messages per client per round")
    parser.add_argument("--passes", type=int, default=5, help="times each client polls all it sent")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="directory for versions.json")
    a = parser.parse_args(argv)
    if not PYTHONS["0.9"].exists():
        raise SystemExit(f"{PYTHONS['0.9']} is missing: run `make .venv-iggy09/.installed`")
    results: dict[str, list[dict[str, float]]] = {"0.8": [], "0.9": []}
    with tempfile.TemporaryDirectory(prefix="whippet-bench-versions-") as tmp:
        node = NodeProcess(Path(tmp) / "node").start()
        try:
            for r in range(a.rounds):
                order = ("0.8", "0.9") if r % 2 == 0 else ("0.9", "0.8")
                for version in order:
                    stream = f"bench-{version.replace('.', '')}-{r}"
                    results[version].append(_run(version, node, stream, a))
        finally:
            node.stop()
    report: dict[str, object] = {"batches": a.batches, "batch": a.batch, "size": a.size, "rounds": a.rounds,
                                 "poll_passes": a.passes}
    for what in ("send", "poll"):
        med = {v: statistics.median(x[what] for x in results[v]) for v in results}
        entry: dict[str, object] = {"0.8_msgs_per_s": round(med["0.8"]), "0.9_msgs_per_s": round(med["0.9"]),
                                    "ratio_0.9_to_0.8": round(med["0.9"] / med["0.8"], 3)}
        # Where a request's time goes: CPU of each side per request (node CPU includes its
        # Raft ticks; a busy machine stretches wall time but hardly these).
        for side in ("client", "node"):
            key = f"{side}_cpu_ms_per_{what}"
            entry[key] = {v: round(statistics.median(x[key] for x in results[v]), 3) for v in results}
        report[what] = entry
    text = json.dumps(report, indent=2)
    print(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "versions.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
