"""What docs/METRICS.md promises: the exported and the reserved metric names, with their types."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["DOC", "exported", "process_names", "promql_metric_names", "reserved", "sample_names"]

DOC = Path(__file__).resolve().parents[3] / "docs" / "METRICS.md"
_ROW = re.compile(r"^\| `([a-z_:][a-z0-9_:]*)` \| (counter|gauge|histogram) \|")


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _table(section: str) -> dict[str, str]:
    rows = {}
    for line in section.splitlines():
        m = _ROW.match(line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} documented twice"
            rows[m.group(1)] = m.group(2)
    return rows


def exported() -> dict[str, str]:
    """name -> type of every whippet_* metric a node exports today."""
    return _table(_section("Exported"))


def reserved() -> dict[str, str]:
    """name -> type of the names reserved for the cluster's replication and Raft metrics."""
    return _table(_section("Reserved for the cluster"))


def process_names() -> set[str]:
    """The prometheus-client process/platform/gc sample names listed under "Process"."""
    section = _section("Exported").split("### Process", 1)[1]
    return set(re.findall(r"`((?:process|python)_[a-z_]+)`", section))


def sample_names(metrics: dict[str, str]) -> set[str]:
    """The sample names a scrape shows for documented metrics (histograms have three)."""
    out: set[str] = set()
    for name, kind in metrics.items():
        out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
    return out


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (Grafana's ``$variables`` allowed).

    Strings, label matchers, range selectors and label lists go first; what is left
    that is not a function call or a keyword is a metric name.
    """
    assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), f"unbalanced: {expr}"
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LISTS.sub(" ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        if text[m.end():].lstrip().startswith("(") or m.group(0) in _KEYWORDS:
            continue
        names.add(m.group(0))
    return names
