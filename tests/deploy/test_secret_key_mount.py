"""Issue 11: the wallet key reaches the executor as a read-only file, never as an environment
variable."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.kit import deploy_chart
from tests.kit.deploy_objects import by_component, containers, env_of, pod_spec, secret_env

KEY_FILE = "/var/run/secrets/dne/solana-key"
LIVE = {"wallet": {"existingSecret": "my-wallet"},
        "components": {"executor": {"env": {"EXECUTOR_DRIVER": "drift"},
                                    "persistence": {"enabled": True}}}}


def executor_of(values: dict[str, Any]) -> dict[str, Any]:
    return by_component(deploy_chart.documents(deploy_chart.render(values)), "Deployment")[
        "executor"]


def wallet_volume(deployment: dict[str, Any]) -> dict[str, Any]:
    return next(volume for volume in pod_spec(deployment)["volumes"]
                if volume["name"] == "wallet")


@pytest.mark.parametrize(
    ("values", "secret"),
    [(LIVE, "my-wallet"), ({"wallet": {"privateKey": "k" * 88}}, "dne-wallet")],
    ids=["existing-secret", "key-in-values"],
)
def test_the_key_is_a_read_only_owner_only_file_named_by_solana_private_key_file(
    values: dict[str, Any], secret: str
) -> None:
    executor = executor_of(values)
    (container,) = containers(executor)
    assert env_of(container)["SOLANA_PRIVATE_KEY_FILE"] == {"name": "SOLANA_PRIVATE_KEY_FILE",
                                                           "value": KEY_FILE}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "wallet")
    assert mount == {"name": "wallet", "mountPath": "/var/run/secrets/dne", "readOnly": True}
    assert wallet_volume(executor)["secret"] == {
        "secretName": secret, "defaultMode": 0o400,
        "items": [{"key": "SOLANA_PRIVATE_KEY", "path": "solana-key"}],
    }


def test_no_environment_variable_of_any_pod_carries_the_key() -> None:
    for values in (LIVE, {"wallet": {"privateKey": "k" * 88}}):
        for name, deployment in by_component(
            deploy_chart.documents(deploy_chart.render(values)), "Deployment"
        ).items():
            for container in containers(deployment):
                assert "SOLANA_PRIVATE_KEY" not in env_of(container), name
                assert not any(
                    "secretRef" in source for source in container.get("envFrom", [])), name
                assert "k" * 88 not in str(container), name
            assert not set(secret_env(deployment).values()) & {"my-wallet", "dne-wallet"}, name


def test_paper_mode_mounts_no_key() -> None:
    executor = executor_of({})
    assert all(volume["name"] != "wallet" for volume in pod_spec(executor)["volumes"])
    assert "SOLANA_PRIVATE_KEY_FILE" not in env_of(containers(executor)[0])


def test_the_key_file_path_can_be_chosen() -> None:
    executor = executor_of({**LIVE, "wallet": {"existingSecret": "w", "keyFile": "/keys/id"}})
    (container,) = containers(executor)
    assert env_of(container)["SOLANA_PRIVATE_KEY_FILE"]["value"] == "/keys/id"
    assert {"name": "wallet", "mountPath": "/keys", "readOnly": True} in container[
        "volumeMounts"]
    assert wallet_volume(executor)["secret"]["items"] == [
        {"key": "SOLANA_PRIVATE_KEY", "path": "id"}]


@pytest.mark.parametrize("key_file", ["/tmp/key", "/var/lib/dne/key"])
def test_a_key_file_in_a_directory_already_mounted_is_refused(key_file: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=r"wallet\.keyFile"):
        deploy_chart.render({"wallet": {"existingSecret": "w", "keyFile": key_file}})


@pytest.mark.parametrize("key_file", ["solana-key", "/solana-key", "/keys/", ""])
def test_a_key_file_that_is_not_a_file_in_a_directory_is_refused(key_file: str) -> None:
    with pytest.raises(helm.HelmValuesError):
        deploy_chart.render({"wallet": {"existingSecret": "w", "keyFile": key_file}})
