"""The chart lints clean, renders with Helm's own engine, and every object is valid Kubernetes."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from tests.deploy.conftest import values_of
from tests.kit import deploy_chart
from tests.kit.deploy_objects import of_kind

WARNING = 2
# Custom resources of the Prometheus Operator: no schema ships with Kubernetes.
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}


def test_there_are_at_least_two_example_value_files() -> None:
    assert {"postgres-multi-replica", "sqlite-one-node"} <= set(deploy_chart.example_names())


def test_chart_lints_without_errors_or_warnings(value_set: str) -> None:
    report = helm.lint(deploy_chart.CHART_DIR, values_of(value_set), strict=True,
                       kube_version=f"v{deploy_chart.KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= WARNING]
    assert report["errors"] == [] and problems == []


def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(
    objects: list[dict[str, Any]],
) -> None:
    for obj in objects:
        if obj["kind"] in OPERATOR_KINDS:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        # strict: unknown fields fail too, the way the API server's field validation does.
        kubernetes_validate.validate(obj, deploy_chart.KUBE_VERSION, strict=True)


def test_every_component_is_a_deployment_with_a_service(objects: list[dict[str, Any]]) -> None:
    for kind in ("Deployment", "Service"):
        names = {obj["metadata"]["name"] for obj in of_kind(objects, kind)}
        assert names == {f"dne-{name}" for name in deploy_chart.COMPONENTS}


def test_object_names_are_unique_per_kind(objects: list[dict[str, Any]]) -> None:
    keys = [(obj["kind"], obj["metadata"]["name"]) for obj in objects]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("name", deploy_chart.example_names())
def test_golden_render_of_each_example_is_up_to_date(name: str) -> None:
    golden = deploy_chart.golden_path(name)
    assert golden.is_file(), f"{golden} is missing: run `make helm`"
    rendered = deploy_chart.golden_text(deploy_chart.render(deploy_chart.example_values(name)))
    assert golden.read_text() == rendered, f"{golden.name} is stale: run `make helm`"


def test_notes_tell_how_to_reach_the_dashboard(renders: dict[str, dict[str, str]]) -> None:
    notes = next(text for path, text in renders["default"].items() if path.endswith("NOTES.txt"))
    assert "port-forward svc/dne-gateway" in notes and "?token=" in notes
