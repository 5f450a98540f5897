"""The executor's state files (the paper venue, the live order log) live on a writable volume
that outlives the pod: under a read-only root, anywhere else they could not be written, and on
an emptyDir the order log would be lost with the pod (a retried order could then trade twice)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import helm_python as helm
import pytest

from tests.kit import deploy_chart
from tests.kit.deploy_objects import by_component, containers, env_of, pod_spec

STATE_PATHS = ("PAPER_STATE_PATH", "LIVE_STATE_PATH")


def mount_holding(container: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The volume mount `path` is written to: the deepest mount path above it."""
    above = [mount for mount in container.get("volumeMounts", [])
             if PurePosixPath(path).is_relative_to(mount["mountPath"])]
    return max(above, key=lambda mount: len(mount["mountPath"]), default=None)


def test_the_executors_state_paths_are_on_a_writable_persistent_volume(
    objects: list[dict[str, Any]],
) -> None:
    executor = by_component(objects, "Deployment")["executor"]
    (container,) = containers(executor)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {volume["name"]: volume for volume in pod_spec(executor)["volumes"]}
    env = env_of(container)
    for variable in STATE_PATHS:
        assert variable in env, f"{variable} is not set: the default path is read-only"
        mount = mount_holding(container, env[variable]["value"])
        assert mount is not None, f"{variable} is on the read-only root"
        assert not mount.get("readOnly", False), variable
        assert "persistentVolumeClaim" in volumes[mount["name"]], variable


def test_live_trading_without_a_volume_for_the_order_log_is_refused_with_a_reason() -> None:
    with pytest.raises(helm.HelmRenderError, match="order log"):
        deploy_chart.render({"components": {"executor": {
            "env": {"EXECUTOR_DRIVER": "drift"}, "persistence": {"enabled": False}}}})
