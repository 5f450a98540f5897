"""values.schema.json rejects unknown keys and unsafe settings; the templates refuse the rest."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.kit import deploy_chart

REJECTED = {
    "unknown top-level key": {"replicaCount": 2},
    "misspelt nested key": {"image": {"repo": "x"}},
    "unknown key in default": {"default": {"replica": 2}},
    "unknown key in a component": {"components": {"gateway": {"replica": 3}}},
    "unknown component": {"components": {"ledger": {"port": 50060}}},
    "unknown probe setting": {"default": {"probes": {"readiness": {"grpc": {"port": 1}}}}},
    "two engines for one account": {"components": {"engine": {"replicas": 2}}},
    "two executors for one account": {"components": {"executor": {"replicas": 2}}},
    "an engine that is not a singleton": {"components": {"engine": {"singleton": False}}},
    "the wallet key in the gateway": {"components": {"gateway": {"walletKey": True}}},
    "the wallet key in the engine": {"components": {"engine": {"walletKey": True}}},
    "the database in the executor": {"components": {"executor": {"database": True}}},
    "a call to an unknown component": {"components": {"engine": {"calls": ["ledger"]}}},
    "the gateway calling the executor": {"components": {"gateway": {"calls": ["executor"]}}},
    "the gateway calling the vault": {"components": {"gateway": {"calls": ["feed", "vault"]}}},
    "a proxy named by host": {"components": {"gateway": {"ingress": {
        "trustedProxies": ["ingress.internal"]}}}},
    "a short api token": {"apiToken": {"value": "short"}},
    "the service token in the gateway": {"components": {"gateway": {"serviceToken": True}}},
    "the service token in the feed": {"components": {"feed": {"serviceToken": True}}},
    "a service token given in values": {"serviceToken": {"value": "t" * 32}},
    "a service token file that is a directory": {"serviceToken": {"file": "/var/run/dne/"}},
    "a database url that is not postgresql": {"database": {"url": "mysql://db/dne"}},
    "a non-string env name": {"default": {"env": {"lower-case": "x"}}},
}


@pytest.mark.parametrize("values", REJECTED.values(), ids=REJECTED.keys())
def test_schema_rejects(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError):
        deploy_chart.render(values)


@pytest.mark.parametrize("values", REJECTED.values(), ids=REJECTED.keys())
def test_lint_reports_schema_violations_as_errors(values: dict[str, Any]) -> None:
    assert helm.lint(deploy_chart.CHART_DIR, values)["errors"]


def test_defaults_and_examples_satisfy_the_schema(value_set: str) -> None:
    values = None if value_set == "default" else deploy_chart.example_values(value_set)
    helm.Chart.load(deploy_chart.CHART_DIR).validate_schema(values)


def test_sqlite_without_a_volume_is_refused_with_a_reason() -> None:
    with pytest.raises(helm.HelmRenderError, match="SQLite on a volume"):
        deploy_chart.render({"components": {"vault": {"persistence": {"enabled": False}}}})


def test_a_volume_on_a_scaled_component_is_refused() -> None:
    with pytest.raises(helm.HelmRenderError, match="needs a single replica"):
        deploy_chart.render({"components": {"feed": {"persistence": {"enabled": True}}}})
