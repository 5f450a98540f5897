"""The deployment rules of the issue and architecture.md, checked on the rendered objects."""

from __future__ import annotations

from typing import Any

import pytest

from services.launcher.__main__ import LEAD_IN_DAYS
from tests.kit import deploy_chart
from tests.kit.deploy_objects import (
    COMPONENT_LABEL,
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

PORTS = {"feed": 50051, "vault": 50052, "executor": 50053, "engine": 50054, "gateway": 8000}
ADDRESS_ENV = {"feed": "FEED_ADDRESS", "vault": "VAULT_ADDRESS", "executor": "EXECUTOR_ADDRESS",
               "engine": "ENGINE_ADDRESS"}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def test_grpc_services_have_native_grpc_startup_readiness_and_liveness_probes(
    objects: list[dict[str, Any]],
) -> None:
    deployments = by_component(objects, "Deployment")
    for name in deploy_chart.GRPC_COMPONENTS:
        (container,) = containers(deployments[name])
        for probe in PROBES:
            assert container[probe]["grpc"] == {"port": PORTS[name]}, (name, probe)
            assert "exec" not in container[probe] and "tcpSocket" not in container[probe]


def test_gateway_is_probed_over_http_on_a_page_that_needs_no_backend(
    objects: list[dict[str, Any]],
) -> None:
    (container,) = containers(by_component(objects, "Deployment")["gateway"])
    for probe in PROBES:
        # Not /health: it answers 503 while any backend is down, and that must not take every
        # gateway (and so the dashboard that shows the outage) out of the Service.
        probe_get = container[probe]["httpGet"]
        assert (probe_get["path"], probe_get["port"]) == ("/", "http")
        # The gateway refuses Host names it does not know (DNS rebinding); the kubelet would
        # send the pod IP, so the probe names a host the gateway is told to accept.
        (host,) = [h["value"] for h in probe_get["httpHeaders"] if h["name"] == "Host"]
        allowed = env_of(container)["ALLOWED_HOSTS"]["value"].split(",")
        assert host in allowed


def test_the_gateway_accepts_its_service_names_and_ingress_hosts(
    objects: list[dict[str, Any]],
) -> None:
    deployments = by_component(objects, "Deployment")
    (container,) = containers(deployments["gateway"])
    allowed = set(env_of(container)["ALLOWED_HOSTS"]["value"].split(","))
    service = by_component(objects, "Service")["gateway"]["metadata"]
    name, namespace = service["name"], deploy_chart.NAMESPACE
    assert name in allowed and f"{name}.{namespace}.svc.cluster.local" in allowed
    for ingress in of_kind(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            assert rule["host"] in allowed


def test_the_gateway_believes_forwarded_clients_only_from_the_configured_proxies() -> None:
    def gateway_env(values: dict[str, Any] | None) -> dict[str, Any]:
        objects = deploy_chart.documents(deploy_chart.render(values))
        return env_of(containers(by_component(objects, "Deployment")["gateway"])[0])

    assert "TRUSTED_PROXIES" not in gateway_env(None)
    proxies = {"components": {"gateway": {"ingress": {
        "trustedProxies": ["10.244.0.0/16", "192.0.2.10"]}}}}
    assert gateway_env(proxies)["TRUSTED_PROXIES"]["value"] == "10.244.0.0/16,192.0.2.10"


def test_every_container_runs_hardened(objects: list[dict[str, Any]]) -> None:
    for deployment in of_kind(objects, "Deployment"):
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] > 0
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert not spec.get("hostNetwork") and not spec.get("hostPID")
        for container in containers(deployment):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context.get("privileged", False) is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert not context["capabilities"].get("add")


def test_every_container_has_requests_and_limits(objects: list[dict[str, Any]]) -> None:
    for deployment in of_kind(objects, "Deployment"):
        for container in containers(deployment):
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys()
            assert {"cpu", "memory"} <= resources["limits"].keys()


def test_writable_paths_are_volumes_under_a_read_only_root(objects: list[dict[str, Any]]) -> None:
    for deployment in of_kind(objects, "Deployment"):
        (container,) = containers(deployment)
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert {"/tmp", "/var/lib/dne"} <= mounts


def test_each_pod_runs_the_service_named_by_its_component_label(
    objects: list[dict[str, Any]],
) -> None:
    for name, deployment in by_component(objects, "Deployment").items():
        (container,) = containers(deployment)
        assert deployment["spec"]["template"]["metadata"]["labels"][COMPONENT_LABEL] == name
        assert container["command"] == ["python", "-m", "services.$(OTEL_SERVICE_NAME)"]
        field = env_of(container)["OTEL_SERVICE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
        assert field == f"metadata.labels['{COMPONENT_LABEL}']"


def test_services_listen_on_all_interfaces_on_their_port(objects: list[dict[str, Any]]) -> None:
    for name, deployment in by_component(objects, "Deployment").items():
        env = env_of(containers(deployment)[0])
        assert env["HOST"]["value"] == "0.0.0.0"
        assert env["PORT"]["value"] == str(PORTS[name])


def test_addresses_point_at_the_services_of_the_called_components(
    objects: list[dict[str, Any]],
) -> None:
    services = by_component(objects, "Service")
    expected_calls = {"engine": {"feed", "executor", "vault"}, "executor": {"feed"},
                      "gateway": {"feed", "engine"}, "feed": set(),
                      "vault": set()}
    for name, deployment in by_component(objects, "Deployment").items():
        env = env_of(containers(deployment)[0])
        called = {callee for callee, var in ADDRESS_ENV.items() if var in env}
        assert called == expected_calls[name], name
        for callee in called:
            service = services[callee]
            port = service["spec"]["ports"][0]["port"]
            assert env[ADDRESS_ENV[callee]]["value"] == f"{service['metadata']['name']}:{port}"


def test_the_wallet_key_reaches_the_executor_and_nothing_else(
    renders: dict[str, dict[str, str]],
) -> None:
    objects = deploy_chart.documents(renders["postgres-multi-replica"])
    deployments = by_component(objects, "Deployment")
    assert set(secret_names_used(deployments["executor"])) == {"dne-wallet",
                                                               "dne-service-token"}
    assert "SOLANA_PRIVATE_KEY_FILE" in env_of(containers(deployments["executor"])[0])
    for name, deployment in deployments.items():
        if name != "executor":
            assert "dne-wallet" not in set(secret_names_used(deployment)), name
            assert "SOLANA_PRIVATE_KEY" not in env_of(containers(deployment)[0]), name


def test_a_key_given_in_values_becomes_a_secret_read_by_the_executor_only() -> None:
    objects = deploy_chart.documents(deploy_chart.render({"wallet": {"privateKey": "k" * 64}}))
    secrets = {obj["metadata"]["name"]: obj for obj in of_kind(objects, "Secret")}
    assert secrets["dne-wallet"]["stringData"] == {"SOLANA_PRIVATE_KEY": "k" * 64}
    readers = {name for name, deployment in by_component(objects, "Deployment").items()
               if "dne-wallet" in set(secret_names_used(deployment))}
    assert readers == {"executor"}


def test_paper_mode_creates_no_wallet_secret(objects: list[dict[str, Any]]) -> None:
    assert all(obj["metadata"]["name"] != "dne-wallet" for obj in of_kind(objects, "Secret"))


def test_each_secret_is_read_only_by_the_component_that_needs_it(
    objects: list[dict[str, Any]],
) -> None:
    for name, deployment in by_component(objects, "Deployment").items():
        wanted = {"vault": {"DATABASE_URL"}, "gateway": {"DNE_API_TOKEN"},
                  "engine": {"DNE_API_TOKEN"}}.get(name, set())
        if name == "vault" and "value" in env_of(containers(deployment)[0])["DATABASE_URL"]:
            wanted = set()   # SQLite: a path, not a secret
        assert set(secret_env(deployment)) == wanted, name


def test_existing_postgresql_is_reached_by_a_url_from_a_secret(
    renders: dict[str, dict[str, str]],
) -> None:
    objects = deploy_chart.documents(renders["postgres-multi-replica"])
    vault = by_component(objects, "Deployment")["vault"]
    assert secret_env(vault) == {"DATABASE_URL": "dne-database"}
    assert "PersistentVolumeClaim" not in {obj["kind"] for obj in objects
                                           if obj["metadata"]["name"] == "dne-vault"}


def test_sqlite_one_node_keeps_the_ledger_on_the_vaults_volume(
    renders: dict[str, dict[str, str]],
) -> None:
    objects = deploy_chart.documents(renders["sqlite-one-node"])
    vault = by_component(objects, "Deployment")["vault"]
    (container,) = containers(vault)
    assert env_of(container)["DATABASE_URL"]["value"] == "sqlite:////var/lib/dne/vault.db"
    volume = next(v for v in pod_spec(vault)["volumes"] if v["name"] == "state")
    assert volume["persistentVolumeClaim"]["claimName"] == "dne-vault"
    claims = {obj["metadata"]["name"]: obj for obj in of_kind(objects, "PersistentVolumeClaim")}
    assert claims["dne-vault"]["spec"]["storageClassName"] == "local-path"
    assert vault["spec"]["strategy"]["type"] == "Recreate"


def test_a_database_url_in_values_becomes_a_secret_for_the_vault() -> None:
    url = "postgresql://dne:secret@db:5432/dne"
    objects = deploy_chart.documents(deploy_chart.render({"database": {"url": url}}))
    secrets = {obj["metadata"]["name"]: obj for obj in of_kind(objects, "Secret")}
    assert secrets["dne-database"]["stringData"] == {"DATABASE_URL": url}
    assert secret_env(by_component(objects, "Deployment")["vault"])["DATABASE_URL"] == \
        "dne-database"


@pytest.mark.parametrize("name", ["engine", "executor"])
def test_engine_and_executor_run_one_replica_replaced_by_recreate(
    objects: list[dict[str, Any]], name: str,
) -> None:
    deployment = by_component(objects, "Deployment")[name]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert name not in by_component(objects, "PodDisruptionBudget")


@pytest.mark.parametrize("name", ["gateway", "feed"])
def test_gateway_and_feed_roll_and_have_a_disruption_budget(
    objects: list[dict[str, Any]], name: str,
) -> None:
    deployment = by_component(objects, "Deployment")[name]
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    budget = by_component(objects, "PodDisruptionBudget")[name]
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] == 1


def test_multi_replica_example_scales_gateway_and_feed(
    renders: dict[str, dict[str, str]],
) -> None:
    deployments = by_component(deploy_chart.documents(renders["postgres-multi-replica"]),
                               "Deployment")
    assert deployments["gateway"]["spec"]["replicas"] == 3
    assert deployments["feed"]["spec"]["replicas"] == 2
    assert deployments["engine"]["spec"]["replicas"] == 1


def _grpc_rule(policy: dict[str, Any], port: str) -> dict[str, Any]:
    (rule,) = [rule for rule in policy["spec"]["ingress"] if port in rule_ports(rule)]
    return rule


def test_only_the_engine_reaches_executor_and_vault(objects: list[dict[str, Any]]) -> None:
    policies = by_component(objects, "NetworkPolicy")
    assert set(policies) == set(deploy_chart.COMPONENTS)
    for name in ("executor", "vault"):
        policy = policies[name]
        assert policy["spec"]["podSelector"]["matchLabels"][COMPONENT_LABEL] == name
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        rule = _grpc_rule(policy, "grpc")
        assert peer_components(rule) == {"engine"}
        assert all(set(peer) == {"podSelector"} for peer in rule["from"])
        assert rule_ports(rule) == {"grpc"}
    env = env_of(containers(by_component(objects, "Deployment")["gateway"])[0])
    assert "EXECUTOR_ADDRESS" not in env and "VAULT_ADDRESS" not in env


def test_every_other_grpc_service_accepts_only_its_callers(objects: list[dict[str, Any]]) -> None:
    policies = by_component(objects, "NetworkPolicy")
    assert peer_components(_grpc_rule(policies["engine"], "grpc")) == {"gateway"}
    assert peer_components(_grpc_rule(policies["feed"], "grpc")) == \
        {"engine", "executor", "gateway"}


def test_the_gateway_accepts_browsers_from_anywhere_on_its_http_port_only(
    objects: list[dict[str, Any]],
) -> None:
    (rule,) = by_component(objects, "NetworkPolicy")["gateway"]["spec"]["ingress"]
    assert "from" not in rule and rule_ports(rule) == {"http"}


def test_metrics_ports_accept_only_the_configured_scrapers(
    renders: dict[str, dict[str, str]],
) -> None:
    objects = deploy_chart.documents(renders["postgres-multi-replica"])
    for name in deploy_chart.GRPC_COMPONENTS:
        rule = _grpc_rule(by_component(objects, "NetworkPolicy")[name], "metrics")
        assert rule["from"] == [{"namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


def test_network_policies_are_on_by_default_and_can_be_turned_off() -> None:
    assert by_component(deploy_chart.documents(deploy_chart.render()), "NetworkPolicy")
    off = deploy_chart.documents(deploy_chart.render({"networkPolicy": {"enabled": False}}))
    assert of_kind(off, "NetworkPolicy") == []


def test_gateway_ingress_is_optional_and_routes_to_its_http_port(
    renders: dict[str, dict[str, str]],
) -> None:
    assert of_kind(deploy_chart.documents(renders["default"]), "Ingress") == []
    (ingress,) = of_kind(deploy_chart.documents(renders["postgres-multi-replica"]), "Ingress")
    (rule,) = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "dne-gateway", "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["secretName"] == "dne-tls"


def test_every_gateway_replica_shares_one_api_token(objects: list[dict[str, Any]]) -> None:
    gateway = by_component(objects, "Deployment")["gateway"]
    secret_name = secret_env(gateway)["DNE_API_TOKEN"]
    made = {obj["metadata"]["name"]: obj for obj in of_kind(objects, "Secret")}
    if secret_name in made:
        assert len(made[secret_name]["stringData"]["DNE_API_TOKEN"]) >= 16
    else:
        assert secret_name == "dne-api-token"   # the examples bring their own


def test_a_component_nothing_calls_refuses_every_connection() -> None:
    objects = deploy_chart.documents(deploy_chart.render({
        "metrics": {"enabled": False},
        "components": {"engine": {"calls": ["feed", "executor"]}}}))
    assert by_component(objects, "NetworkPolicy")["vault"]["spec"]["ingress"] == []


def test_a_replay_feed_opens_a_week_into_the_recorded_data_as_make_run_does(
    objects: list[dict[str, Any]],
) -> None:
    (feed,) = containers(by_component(objects, "Deployment")["feed"])
    env = env_of(feed)
    if env["FEED_SOURCE"]["value"] != "replay":
        pytest.skip("a live feed (FEED_SOURCE=drift) has no replay to lead into")
    assert env["REPLAY_LEAD_IN_DAYS"]["value"] == str(LEAD_IN_DAYS)
