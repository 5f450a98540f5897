"""The engine's state file (started or not, mode, sub-account, cooldown, hedged entries under
way) lives on a writable volume that outlives the pod: a rescheduled engine resumes as it was."""

from __future__ import annotations

from typing import Any

from tests.deploy.test_executor_state import mount_holding
from tests.kit.deploy_objects import by_component, containers, env_of, pod_spec


def test_the_engines_state_path_is_on_a_writable_persistent_volume(
    objects: list[dict[str, Any]],
) -> None:
    engine = by_component(objects, "Deployment")["engine"]
    (container,) = containers(engine)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = env_of(container)
    assert "ENGINE_STATE_PATH" in env, "without it the engine forgets it was started"
    mount = mount_holding(container, env["ENGINE_STATE_PATH"]["value"])
    assert mount is not None and not mount.get("readOnly", False)
    volumes = {volume["name"]: volume for volume in pod_spec(engine)["volumes"]}
    assert "persistentVolumeClaim" in volumes[mount["name"]]
    claims = by_component(objects, "PersistentVolumeClaim")
    assert "engine" in claims


def test_the_feeds_replay_state_is_on_a_writable_volume_that_outlives_its_container(
    objects: list[dict[str, Any]],
) -> None:
    feed = by_component(objects, "Deployment")["feed"]
    (container,) = containers(feed)
    env = env_of(container)
    assert "FEED_STATE_PATH" in env, "without it a restarted feed replays from the first day"
    mount = mount_holding(container, env["FEED_STATE_PATH"]["value"])
    assert mount is not None and not mount.get("readOnly", False)
    volumes = {volume["name"]: volume for volume in pod_spec(feed)["volumes"]}
    assert {"emptyDir", "persistentVolumeClaim"} & set(volumes[mount["name"]])
