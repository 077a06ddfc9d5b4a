"""Bench bookkeeping: work split, expected counts, aggregation of HDR histograms, the ratio table."""

from __future__ import annotations

from pathlib import Path

from hdrh.histogram import HdrHistogram

from whippet.cli.bench import _expected, _share
from whippet.cli.bench_actors import ActorPlan
from whippet.cli.bench_drivers import Spec
from whippet.cli.bench_report import aggregate, ratio_table, results_table, write_charts


def _part(values: list[int], messages: int, seconds: float) -> dict:  # type: ignore[type-arg]
    h = HdrHistogram(1, 60_000_000, 3)
    for v in values:
        h.record_value(v)
    return {"messages": messages, "bytes": messages * 1024, "seconds": seconds,
            "histogram": h.encode().decode(), "timeline": [(0, messages // 2), (1, messages // 2)]}


def test_work_is_split_over_pairs_and_expected_counts_follow_the_plan() -> None:
    pairs = [(0, 0), (0, 1), (1, 0)]
    assert _share(pairs, 2, 0) == ((0, 0), (1, 0)) and _share(pairs, 2, 1) == ((0, 1),)
    assert _share(pairs, 5, 4) == ((0, 1),)  # more actors than pairs: they share
    plan = ActorPlan("whippet", "x", Spec(), "producer", 0, ((0, 0), (0, 1)), batches=3)
    assert _expected([plan], 10) == {(0, 0): 20, (0, 1): 10}


def test_aggregate_merges_histograms_and_sums_throughput(tmp_path: Path) -> None:
    a = aggregate("whippet", "w", "send", "producer", [_part([1000] * 99 + [50_000], 1000, 2.0),
                                                      _part([2000] * 100, 1000, 1.0)], 0.1)
    assert a.messages == 2000 and a.msg_per_s == 1000  # wall time is the slowest actor's
    assert 0.99 <= a.latency_ms["p50"] <= 2.01 and a.latency_ms["p99.9"] >= 49
    n = aggregate("nats", "n", "send", "producer", [_part([5000], 500, 1.0)], 0.1)
    table = ratio_table([a, n])
    assert "2.00x" in table and "send" in table
    assert "p99.9" in results_table([a, n])
    charts = write_charts(tmp_path, [a, n])
    assert [c.name for c in charts] == ["throughput.png", "latency.png"] and all(c.stat().st_size for c in charts)
