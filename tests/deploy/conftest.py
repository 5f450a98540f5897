"""Renders the chart once per value set (the defaults and every example) for the whole session."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit import deploy_chart

VALUE_SETS = ["default", *deploy_chart.example_names()]


def values_of(name: str) -> dict[str, Any] | None:
    return None if name == "default" else deploy_chart.example_values(name)


@pytest.fixture(scope="session")
def renders() -> dict[str, dict[str, str]]:
    return {name: deploy_chart.render(values_of(name)) for name in VALUE_SETS}


@pytest.fixture(scope="session", params=VALUE_SETS)
def value_set(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def objects(value_set: str, renders: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    return deploy_chart.documents(renders[value_set])
