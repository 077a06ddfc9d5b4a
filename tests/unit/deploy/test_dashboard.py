"""deploy/grafana/ and deploy/prometheus/: well-formed, and every query reads a documented metric.

"Documented" means docs/METRICS.md: the Exported tables (test_metrics holds the
node to them) or the names Reserved for the cluster. Prometheus' own ``up`` is
the only other name allowed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.unit.deploy import metrics_doc

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "whippet.json"
PROMETHEUS = ROOT / "deploy" / "prometheus"
SYNTHETIC = {"up"}

_GRID = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "properties": {k: {"type": "integer", "minimum": 0} for k in ("h", "w", "x", "y")},
}
_TARGET = {
    "type": "object",
    "required": ["refId", "expr"],
    "properties": {"refId": {"type": "string", "minLength": 1}, "expr": {"type": "string", "minLength": 1}},
}
#: The fields Grafana (schemaVersion >= 36) needs to import a dashboard and draw its panels.
DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time", "refresh"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {"list": {"type": "array", "items": {"type": "object", "required": ["name", "type"]}}},
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"enum": ["row", "stat", "timeseries", "table", "gauge", "bargauge", "text"]},
                    "title": {"type": "string", "minLength": 1},
                    "gridPos": _GRID,
                },
                "if": {"properties": {"type": {"not": {"const": "row"}}}},
                "then": {
                    "required": ["datasource", "targets"],
                    "properties": {"targets": {"type": "array", "minItems": 1, "items": _TARGET}},
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _allowed() -> set[str]:
    return (
        metrics_doc.sample_names(metrics_doc.exported())
        | metrics_doc.sample_names(metrics_doc.reserved())
        | metrics_doc.process_names()
        | SYNTHETIC
    )


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    out = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            assert query.startswith("label_values(") and query.endswith(")")
            out.append((f"${var['name']}", query[len("label_values(") : query.rindex(",")]))
    return out


def test_dashboard_is_a_grafana_dashboard(dashboard: dict[str, Any]) -> None:
    jsonschema.validate(dashboard, DASHBOARD_SCHEMA)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, f"{panel['title']} is wider than the grid"
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job", "instance"} <= variables
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"


def test_dashboard_has_the_sections_operators_need(dashboard: dict[str, Any]) -> None:
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Cluster overview", "Throughput", "Latency", "Replication health", "Consumer lag",
                    "Storage and process"]
    used = set().union(*(metrics_doc.promql_metric_names(q) for _, q in _queries(dashboard)))
    for must in ("whippet_requests_total", "whippet_request_duration_seconds_bucket", "whippet_consumer_group_lag",
                 "whippet_messages_in_total", "whippet_fsync_duration_seconds_bucket",
                 "whippet_under_replicated_partitions", "whippet_replication_lag_messages", "whippet_raft_term"):
        assert must in used, f"no panel shows {must}"


def test_every_dashboard_query_names_documented_metrics(dashboard: dict[str, Any]) -> None:
    allowed = _allowed()
    for where, expr in _queries(dashboard):
        names = metrics_doc.promql_metric_names(expr)
        assert names, f"{where}: no metric in {expr}"
        assert names <= allowed, f"{where}: {names - allowed} is neither exported nor reserved"


def test_promql_name_extraction() -> None:
    """The check above is only as good as this: labels, functions, variables are not names."""
    expr = ('histogram_quantile(0.99, sum by (le, command) (rate(x_bucket{job=~"$job", a="b(c)"}[$__rate_interval])))'
            ' / on (instance) group_left (node_id) y_info * 2 > bool 1e3 and z offset 5m')
    assert metrics_doc.promql_metric_names(expr) == {"x_bucket", "y_info", "z"}
    assert metrics_doc.promql_metric_names("whippet_nope_total") - _allowed() == {"whippet_nope_total"}


def test_prometheus_rules_and_scrape_config() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert all(job["metrics_path"] == "/metrics" for job in jobs.values())
    keep = jobs["whippet"]["relabel_configs"][0]
    assert keep["action"] == "keep" and keep["regex"] == "whippet;http"  # the headless Service, its http port
    for name in config["rule_files"]:
        rules = yaml.safe_load((PROMETHEUS / name).read_text())
        allowed = _allowed()
        seen = []
        for group in rules["groups"]:
            for rule in group["rules"]:
                assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
                assert rule["labels"]["severity"] in {"critical", "warning", "info"}
                names = metrics_doc.promql_metric_names(rule["expr"])
                assert names and names <= allowed, f"{rule['alert']}: {names - allowed}"
                seen.append(rule["alert"])
        assert len(seen) == len(set(seen))


def test_kubernetes_discovery_by_default_and_the_static_job_only_in_the_local_example() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert all("static_configs" not in job and "kubernetes_sd_configs" in job for job in config["scrape_configs"])
    local = yaml.safe_load((PROMETHEUS / "prometheus-local.yml").read_text())
    assert [job["static_configs"][0]["targets"] for job in local["scrape_configs"]] == [["127.0.0.1:3000"]]
    assert local["rule_files"] == config["rule_files"]


def test_alerts_about_streams_and_topics_name_them() -> None:
    """An alert on a per-topic series joins the names in and its text shows names, not ids."""
    rules = yaml.safe_load((PROMETHEUS / "whippet-rules.yml").read_text())
    named = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            summary = rule["annotations"]["summary"]
            if "stream" in rule["expr"] or "$labels.stream" in summary or "$labels.topic" in summary:
                named += 1
                assert "whippet_topic_info" in rule["expr"], rule["alert"]
                assert "$labels.stream_name" in summary and "$labels.topic_name" in summary, rule["alert"]
                assert "$labels.stream }}" not in summary and "$labels.topic }}" not in summary
                if "group" in summary:
                    assert "$labels.group_name" in summary and "whippet_consumer_group_info" in rule["expr"]
    assert named >= 3
