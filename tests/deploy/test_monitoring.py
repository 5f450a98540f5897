"""Grafana dashboard and Prometheus alerts use exactly the metric names services/common defines."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.kit import deploy_chart
from tests.kit.deploy_objects import of_kind

METRICS_MODULE = deploy_chart.REPO_ROOT / "services" / "common" / "metrics.py"
SAMPLE_SUFFIXES = {"Counter": ("_total",), "Gauge": ("",),
                   "Histogram": ("_bucket", "_sum", "_count")}
DNE_NAME = re.compile(r"\bdne_[a-z0-9_]+\b")


def defined_series() -> set[str]:
    """The series names Prometheus sees for every metric in services/common/metrics.py."""
    source = METRICS_MODULE.read_text()
    series = set()
    for kind, name in re.findall(r"\b(Counter|Gauge|Histogram)\(\s*\"(dne_[a-z0-9_]+)\"", source):
        base = name.removesuffix("_total") if kind == "Counter" else name
        series |= {base + suffix for suffix in SAMPLE_SUFFIXES[kind]}
    return series


def dashboard(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (config_map,) = [obj for obj in of_kind(objects, "ConfigMap")
                     if obj["metadata"]["name"] == "dne-dashboard"]
    return json.loads(config_map["data"]["dne-overview.json"])


def alert_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (rule,) = of_kind(objects, "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_the_metrics_module_defines_the_names_the_checks_rely_on() -> None:
    assert {"dne_health_ratio_percent", "dne_trades_total", "dne_vault_sync_failures_total",
            "dne_feed_data_age_seconds", "dne_rpc_duration_seconds_bucket"} <= defined_series()


def test_dashboard_configmap_ships_by_default_for_grafanas_sidecar(
    renders: dict[str, dict[str, str]],
) -> None:
    objects = deploy_chart.documents(renders["default"])
    (config_map,) = of_kind(objects, "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard(objects)["uid"] == "dne-overview"


def test_dashboard_shows_trading_overview_and_service_health(
    renders: dict[str, dict[str, str]],
) -> None:
    board = dashboard(deploy_chart.documents(renders["default"]))
    rows = [panel["title"] for panel in board["panels"] if panel["type"] == "row"]
    assert rows == ["Trading overview", "Service health"]
    exprs = " ".join(t["expr"] for panel in board["panels"] for t in panel.get("targets", []))
    assert {"dne_health_ratio_percent", "dne_leverage_ratio", "dne_delta_drift_percent",
            "dne_funding_apr_percent", "dne_rpc_requests_total"} <= set(DNE_NAME.findall(exprs))


def test_dashboard_queries_only_metrics_that_exist(renders: dict[str, dict[str, str]]) -> None:
    board = dashboard(deploy_chart.documents(renders["default"]))
    exprs = [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]
    used = {name for expr in exprs for name in DNE_NAME.findall(expr)}
    assert used and used <= defined_series(), used - defined_series()


def test_operator_objects_are_optional_and_off_by_default(
    renders: dict[str, dict[str, str]],
) -> None:
    kinds = {obj["kind"] for obj in deploy_chart.documents(renders["default"])}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}


def test_service_monitor_scrapes_the_metrics_port_of_every_component(
    renders: dict[str, dict[str, str]],
) -> None:
    objects = deploy_chart.documents(renders["postgres-multi-replica"])
    (monitor,) = of_kind(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    selector = monitor["spec"]["selector"]["matchLabels"]
    for service in of_kind(objects, "Service"):
        assert selector.items() <= service["metadata"]["labels"].items()
        assert "metrics" in {port["name"] for port in service["spec"]["ports"]}


def test_alerts_cover_health_sync_unknown_trades_stale_feed_and_down_services(
    renders: dict[str, dict[str, str]],
) -> None:
    rules = {r["alert"]: r for r in alert_rules(
        deploy_chart.documents(renders["postgres-multi-replica"]))}
    assert rules["DneHealthRatioLow"]["expr"].endswith("< 50")
    assert rules["DneHealthRatioCritical"]["expr"].endswith("< 20")
    assert rules["DneHealthRatioCritical"]["labels"]["severity"] == "critical"
    assert "dne_vault_sync_failures_total" in rules["DneVaultSyncFailing"]["expr"]
    assert 'result="unknown"' in rules["DneUnknownTransaction"]["expr"]
    assert "dne_feed_data_age_seconds" in rules["DneFeedStale"]["expr"]


def test_a_down_alert_watches_every_component(renders: dict[str, dict[str, str]]) -> None:
    rules = alert_rules(deploy_chart.documents(renders["postgres-multi-replica"]))
    down = {r["labels"]["component"]: r["expr"] for r in rules if r["alert"] == "DneServiceDown"}
    assert set(down) == set(deploy_chart.COMPONENTS)
    assert down["executor"] == 'absent(up{namespace="dne",job="dne-executor"} == 1)'


def test_alert_rules_use_only_metrics_that_exist(renders: dict[str, dict[str, str]]) -> None:
    rules = alert_rules(deploy_chart.documents(renders["postgres-multi-replica"]))
    used = {name for rule in rules for name in DNE_NAME.findall(rule["expr"])}
    assert used and used <= defined_series(), used - defined_series()
