"""A Jepsen-style fault suite: seeded schedules of kills, pauses and real network
partitions against a cluster whose nodes run as their own Unix users, a recorded
history of concurrent client operations, and a checker over that history and the
replicas' logs (docs/RELIABILITY.md).

| module | holds |
|---|---|
| ``netfilter`` | node users; the iptables chain that cuts links between them |
| ``schedule`` | seed -> cluster size, faults, timings, target roles (pure) |
| ``history`` | the JSONL history: invoke / ok / fail / info events |
| ``cluster`` | a chaos cluster: nodes as users, roles read from /metrics, replica logs |
| ``nemesis`` | runs a schedule's faults against the cluster |
| ``workload`` | producers (our SDK, the official 0.8 SDK) and consumers |
| ``checker`` | the anomaly rules (pure) |
| ``trial`` | one seeded trial, end to end |
| ``report`` | results directory -> docs/RELIABILITY.md's table |

Concurrency: asyncio in one process; iptables and process control run in threads.
"""
