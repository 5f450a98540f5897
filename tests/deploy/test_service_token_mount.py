"""Issue 11: the service token reaches the engine, the executor and the vault alone, as a
read-only file (SERVICE_TOKEN_FILE), never as an environment variable; the engine reads the
same API token as the gateway; and only the engine's pods may open a connection to the
executor's and the vault's gRPC ports."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.kit import deploy_chart
from tests.kit.deploy_objects import (
    by_component,
    containers,
    env_of,
    of_kind,
    peer_components,
    pod_spec,
    rule_ports,
    secret_env,
    secret_names_used,
)

TOKEN_FILE = "/var/run/secrets/dne-service/token"
HOLDERS = {"engine", "executor", "vault"}


def deployments(values: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return by_component(deploy_chart.documents(deploy_chart.render(values)), "Deployment")


def token_volume(deployment: dict[str, Any]) -> dict[str, Any] | None:
    return next((volume for volume in pod_spec(deployment)["volumes"]
                 if volume["name"] == "service-token"), None)


@pytest.mark.parametrize(("values", "secret"), [
    ({}, "dne-service-token"),
    ({"serviceToken": {"existingSecret": "my-token"}}, "my-token"),
], ids=["made-by-the-chart", "existing-secret"])
def test_the_service_token_is_a_read_only_file_in_the_three_pods_alone(
    values: dict[str, Any], secret: str,
) -> None:
    for name, deployment in deployments(values).items():
        (container,) = containers(deployment)
        env = env_of(container)
        mounts = [m for m in container["volumeMounts"] if m["name"] == "service-token"]
        if name in HOLDERS:
            assert env["SERVICE_TOKEN_FILE"] == {"name": "SERVICE_TOKEN_FILE",
                                                 "value": TOKEN_FILE}, name
            assert mounts == [{"name": "service-token", "mountPath": "/var/run/secrets/dne-service",
                               "readOnly": True}], name
            assert token_volume(deployment) == {"name": "service-token", "secret": {
                "secretName": secret, "defaultMode": 0o400,
                "items": [{"key": "SERVICE_TOKEN", "path": "token"}]}}, name
        else:
            assert secret not in set(secret_names_used(deployment)), name
            assert "SERVICE_TOKEN_FILE" not in env and mounts == [], name
        assert "SERVICE_TOKEN" not in env, name   # never an environment variable
        assert secret not in set(secret_env(deployment).values()), name


def test_the_chart_makes_one_long_token_unless_a_secret_is_named() -> None:
    made = {obj["metadata"]["name"]: obj
            for obj in of_kind(deploy_chart.documents(deploy_chart.render()), "Secret")}
    assert len(made["dne-service-token"]["stringData"]["SERVICE_TOKEN"]) >= 32
    named = deploy_chart.documents(deploy_chart.render(
        {"serviceToken": {"existingSecret": "my-token"}}))
    assert "dne-service-token" not in {obj["metadata"]["name"]
                                       for obj in of_kind(named, "Secret")}


def test_the_engine_reads_the_api_token_the_gateway_checks() -> None:
    found = deployments()
    assert secret_env(found["engine"])["DNE_API_TOKEN"] == secret_env(found["gateway"])[
        "DNE_API_TOKEN"] == "dne-api-token"


@pytest.mark.parametrize("token_file", ["/tmp/token", "/var/lib/dne/token",
                                        "/var/run/secrets/dne/token"])
def test_a_token_file_in_a_directory_already_mounted_is_refused(token_file: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=r"serviceToken\.file"):
        deploy_chart.render({"serviceToken": {"file": token_file}})


def test_the_executor_and_the_vault_accept_grpc_from_engine_pods_only() -> None:
    policies = by_component(deploy_chart.documents(deploy_chart.render()), "NetworkPolicy")
    for name in ("executor", "vault"):
        rules = policies[name]["spec"]["ingress"]
        grpc_rules = [rule for rule in rules if "grpc" in rule_ports(rule)]
        assert [peer_components(rule) for rule in grpc_rules] == [{"engine"}], name
        assert all(rule.get("from") for rule in rules), name   # no rule open to anyone


def test_grpc_probes_need_no_token_with_the_service_token_on() -> None:
    # The kubelet's gRPC probe calls grpc.health.v1.Health, which every service leaves open.
    for name in HOLDERS:
        (container,) = containers(deployments()[name])
        assert "grpc" in container["readinessProbe"] and "grpc" in container["startupProbe"]
