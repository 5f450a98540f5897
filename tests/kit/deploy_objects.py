"""Lookups over rendered Kubernetes objects, for the chart's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

COMPONENT_LABEL = "app.kubernetes.io/component"


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def by_component(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["labels"][COMPONENT_LABEL]: obj for obj in of_kind(objects, kind)
            if COMPONENT_LABEL in obj["metadata"].get("labels", {})}


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(deployment)
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def secret_names_used(deployment: dict[str, Any]) -> Iterator[str]:
    """Every Secret a pod can read: env, envFrom and volumes."""
    for container in containers(deployment):
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                yield ref["name"]
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"]
    for volume in pod_spec(deployment).get("volumes", []):
        if "secret" in volume:
            yield volume["secret"]["secretName"]
        for projected in volume.get("projected", {}).get("sources", []):
            if "secret" in projected:
                yield projected["secret"]["name"]


def secret_env(deployment: dict[str, Any]) -> dict[str, str]:
    """Env name -> Secret name, for every variable a pod takes from a Secret."""
    found = {}
    for container in containers(deployment):
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found[item["name"]] = ref["name"]
    return found


def peer_components(rule: dict[str, Any]) -> set[str]:
    return {peer["podSelector"]["matchLabels"][COMPONENT_LABEL]
            for peer in rule.get("from", []) if "podSelector" in peer}


def rule_ports(rule: dict[str, Any]) -> set[Any]:
    return {port["port"] for port in rule.get("ports", [])}
