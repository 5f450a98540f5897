"""Issue 11, optional: mtls.enabled mounts the operator's certificate Secret read-only in every
pod, names its files to the services (GRPC_TLS_*), and points the kubelet's gRPC probes, which
speak no TLS, at the health-only port."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from tests.kit import deploy_chart
from tests.kit.deploy_objects import by_component, containers, env_of, pod_spec

MTLS = {"mtls": {"enabled": True, "existingSecret": "dne-mtls"}}
TLS_ENV = {"GRPC_TLS_CERT_FILE": "/var/run/secrets/dne-tls/tls.crt",
           "GRPC_TLS_KEY_FILE": "/var/run/secrets/dne-tls/tls.key",
           "GRPC_TLS_CA_FILE": "/var/run/secrets/dne-tls/ca.crt"}


def objects(values: dict[str, Any]) -> list[dict[str, Any]]:
    return deploy_chart.documents(deploy_chart.render(values))


def test_every_pod_reads_the_certificate_as_read_only_files() -> None:
    for name, deployment in by_component(objects(MTLS), "Deployment").items():
        (container,) = containers(deployment)
        env = env_of(container)
        assert {key: env[key]["value"] for key in TLS_ENV} == TLS_ENV, name
        assert {"name": "mtls", "mountPath": "/var/run/secrets/dne-tls", "readOnly": True} in (
            container["volumeMounts"]), name
        (volume,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == "mtls"]
        assert volume["secret"]["secretName"] == "dne-mtls"
        assert volume["secret"]["defaultMode"] == 0o400


def test_grpc_probes_ask_the_health_only_port_and_the_gateway_keeps_its_http_probe() -> None:
    for name, deployment in by_component(objects(MTLS), "Deployment").items():
        (container,) = containers(deployment)
        if name in deploy_chart.GRPC_COMPONENTS:
            assert env_of(container)["HEALTH_PORT"]["value"] == "50060"
            assert {"name": "health", "containerPort": 50060, "protocol": "TCP"} in (
                container["ports"])
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[kind]["grpc"] == {"port": 50060}, (name, kind)
        else:
            assert "HEALTH_PORT" not in env_of(container)
            assert "httpGet" in container["readinessProbe"]


def test_without_mtls_nothing_changes() -> None:
    for deployment in by_component(objects({}), "Deployment").values():
        (container,) = containers(deployment)
        assert not set(TLS_ENV) & set(env_of(container))
        assert "HEALTH_PORT" not in env_of(container)


def test_mtls_renders_valid_kubernetes_objects() -> None:
    for obj in objects(MTLS):
        kubernetes_validate.validate(obj, deploy_chart.KUBE_VERSION, strict=True)


def test_mtls_without_a_certificate_secret_is_refused() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"mtls\.existingSecret"):
        deploy_chart.render({"mtls": {"enabled": True}})


def test_unknown_mtls_settings_are_refused() -> None:
    with pytest.raises(helm.HelmValuesError):
        deploy_chart.render({"mtls": {"enabled": True, "existingSecret": "s", "ca": "x"}})
