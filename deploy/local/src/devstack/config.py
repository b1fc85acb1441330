"""What a stack is made of, and the environment each service process gets."""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = ["MAX_ALIGNER_REPLICAS", "SERVICES", "Secrets", "StackConfig", "service_env"]

SERVICES = ("auth", "storage", "aligner", "janitor", "notifier", "gateway")
USES_S3 = frozenset({"gateway", "storage", "aligner", "janitor"})
DEFAULT_PORTS = {
    "gateway": 8000,
    "auth": 8001,
    "storage": 8002,
    "aligner": 8003,
    "janitor": 8004,
    "notifier": 8005,
}
# Webhooks to this machine are allowed in development and tests (production refuses
# private and loopback addresses unless its operator lists them).
DEV_WEBHOOK_NETWORKS = "127.0.0.0/8,::1/128"
# The aligner runs as several processes: "aligner" (replica 1), "aligner-2", "aligner-3"...
# (README, Scaling: the aligner scales to ten replicas).
MAX_ALIGNER_REPLICAS = 10


@dataclass
class StackConfig:
    state_dir: Path
    mysql_admin_url: str = "mysql://root@127.0.0.1:3306"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    namespace: str = ""
    db_prefix: str = ""
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    s3_port: int = 8333
    # When set, an S3 server already runs there (with these keys); otherwise we start one.
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    bucket: str = "alignment"
    environment: str = "development"
    # Extra settings per service, e.g. {"gateway": {"GATEWAY_MAX_FILE_BYTES": "8388608"}}.
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # Where the services reach MySQL ("host:port") and RabbitMQ, when not where the stack
    # provisions them: a fault test puts cuttable proxies there.
    service_mysql_address: str | None = None
    service_amqp_url: str | None = None
    # Aligner processes: "aligner" (on ports["aligner"]), then "aligner-2"... each on its own
    # HTTP port: ports["aligner-2"] where given, else the next free port after the aligner's.
    aligner_replicas: int = 1
    # DEVSTACK_PROMETHEUS=1: a local Prometheus on this port scrapes every process (and
    # the S3 server we run, on s3_port + 5), data under state_dir/prometheus.
    prometheus_port: int | None = None

    def __post_init__(self) -> None:
        self.assign_aligner_ports()

    @classmethod
    def from_env(cls, state_dir: Path) -> StackConfig:
        return cls(
            state_dir=state_dir,
            mysql_admin_url=os.environ.get("DEVSTACK_MYSQL_ADMIN_URL", cls.mysql_admin_url),
            amqp_url=os.environ.get("DEVSTACK_AMQP_URL", cls.amqp_url),
            s3_endpoint=os.environ.get("DEVSTACK_S3_ENDPOINT") or None,
            s3_access_key=os.environ.get("DEVSTACK_S3_ACCESS_KEY"),
            s3_secret_key=os.environ.get("DEVSTACK_S3_SECRET_KEY"),
            aligner_replicas=parse_replicas(os.environ.get("DEVSTACK_ALIGNER_REPLICAS", "1")),
            prometheus_port=(
                int(os.environ.get("DEVSTACK_PROMETHEUS_PORT", "9090"))
                if os.environ.get("DEVSTACK_PROMETHEUS", "") not in ("", "0")
                else None
            ),
        )

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def log_file(self, name: str) -> Path:
        """A process's log: ``logs/<name>.log`` (``logs/aligner-2.log`` for a replica)."""
        return self.logs_dir / f"{name}.log"

    def schema(self, service: str) -> str:
        return f"{self.db_prefix}{service}"

    def aligner_names(self) -> tuple[str, ...]:
        """``("aligner", "aligner-2", ...)``, one per replica."""
        check_replicas(self.aligner_replicas)
        return ("aligner", *(f"aligner-{i}" for i in range(2, self.aligner_replicas + 1)))

    def process_names(self) -> tuple[str, ...]:
        """Every process of the stack, in start order (the aligner's replicas in its place)."""
        return tuple(
            name
            for service in SERVICES
            for name in (self.aligner_names() if service == "aligner" else (service,))
        )

    def service_of(self, name: str) -> str:
        """The service a process runs: ``aligner-2`` runs the aligner."""
        if name in SERVICES:
            return name
        if name in self.aligner_names():
            return "aligner"
        raise KeyError(f"no process {name!r} in this stack: {', '.join(self.process_names())}")

    def assign_aligner_ports(self) -> None:
        """Gives each aligner replica without a port in ``ports`` the next free port after
        the aligner's: not another process's port, not the S3 server's, and not listened on
        by anything on this machine now. Idempotent; given ports are kept."""
        check_replicas(self.aligner_replicas)
        taken = set(self.ports.values())
        if self.s3_endpoint is None:  # we run SeaweedFS: S3 on s3_port, more above it
            taken |= {self.s3_port + i for i in range(6)}
            taken |= {self.s3_port + 10000 + i for i in range(5)}
        candidate = self.ports["aligner"]
        for name in self.aligner_names()[1:]:
            if name in self.ports:
                continue
            candidate += 1
            while candidate in taken or not port_free(candidate):
                candidate += 1
                if candidate > 65535:
                    raise RuntimeError(f"no free port for {name} after {self.ports['aligner']}")
            self.ports[name] = candidate
            taken.add(candidate)


def check_replicas(replicas: int) -> None:
    if not 1 <= replicas <= MAX_ALIGNER_REPLICAS:
        raise ValueError(
            f"aligner replicas must be from 1 to {MAX_ALIGNER_REPLICAS}, not {replicas}"
        )


def parse_replicas(value: str) -> int:
    """``DEVSTACK_ALIGNER_REPLICAS``: a whole number from 1 to 10."""
    try:
        replicas = int(value.strip())
    except ValueError:
        replicas = 0
    if not 1 <= replicas <= MAX_ALIGNER_REPLICAS:
        raise ValueError(
            f"DEVSTACK_ALIGNER_REPLICAS must be a whole number from 1 to "
            f"{MAX_ALIGNER_REPLICAS}, not {value!r}"
        )
    return replicas


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on ``host:port`` (SO_REUSEADDR, as uvicorn binds: a port whose last
    connections are in TIME_WAIT counts as free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Secrets:
    db_passwords: dict[str, str]
    s3_access_key: str
    s3_secret_key: str
    jwt_private_key_file: Path
    jwt_public_key_file: Path
    stream_token_secret: str = ""  # the gateway's HMAC key for job stream tokens

    @classmethod
    def load_or_create(cls, state_dir: Path) -> Secrets:
        """Generated once per state folder and kept, so restarts reuse the same data."""
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / "secrets.json"
        if path.exists():
            stored = json.loads(path.read_text())
        else:
            stored = {
                "db_passwords": {s: secrets.token_urlsafe(18) for s in SERVICES},
                "s3_access_key": "dev" + secrets.token_hex(8),
                "s3_secret_key": secrets.token_urlsafe(30),
            }
            path.write_text(json.dumps(stored, indent=2))
            path.chmod(0o600)
        missing = [s for s in SERVICES if s not in stored["db_passwords"]]
        if missing or "stream_token_secret" not in stored:  # made before these existed
            stored["db_passwords"] |= {s: secrets.token_urlsafe(18) for s in missing}
            stored.setdefault("stream_token_secret", secrets.token_urlsafe(32))
            path.write_text(json.dumps(stored, indent=2))
            path.chmod(0o600)
        private, public = state_dir / "jwt-ed25519.pem", state_dir / "jwt-ed25519.pub.pem"
        write_key_pair(private, public)
        return cls(
            db_passwords=stored["db_passwords"],
            s3_access_key=stored["s3_access_key"],
            s3_secret_key=stored["s3_secret_key"],
            jwt_private_key_file=private,
            jwt_public_key_file=public,
            stream_token_secret=stored["stream_token_secret"],
        )


def write_key_pair(private: Path, public: Path) -> None:
    """auth's Ed25519 signing key and its public half (for the gateway), made once."""
    if private.exists():
        return
    key = ed25519.Ed25519PrivateKey.generate()
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def mysql_host_port(admin_url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(admin_url)
    return parts.hostname or "127.0.0.1", parts.port or 3306


def service_env(config: StackConfig, secrets_: Secrets, name: str) -> dict[str, str]:
    """The environment of process ``name``: a service, or an aligner replica (``aligner-2``),
    which gets the aligner's settings with its own HTTP port and ``ALIGNER_WORKER_NAME``."""
    service = config.service_of(name)
    prefix = service.upper() + "_"
    host, port = mysql_host_port(config.mysql_admin_url)
    if config.service_mysql_address:
        host, _, given = config.service_mysql_address.rpartition(":")
        port = int(given)
    user = config.schema(service)
    env = {
        "ENVIRONMENT": config.environment,
        "DB_URL": (
            f"mysql+aiomysql://{user}:{secrets_.db_passwords[service]}"
            f"@{host}:{port}/{config.schema(service)}"
        ),
        "AMQP_URL": config.service_amqp_url or config.amqp_url,
        "NAMESPACE": config.namespace,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(config.ports[name]),
    }
    if service == "aligner":
        # Which replica this is (the aligner may record it; unknown settings are ignored).
        env["WORKER_NAME"] = name
    if service in USES_S3:
        env |= {
            "S3__ENDPOINT": config.s3_endpoint or f"127.0.0.1:{config.s3_port}",
            "S3__ACCESS_KEY": config.s3_access_key or secrets_.s3_access_key,
            "S3__SECRET_KEY": config.s3_secret_key or secrets_.s3_secret_key,
            "S3__BUCKET": config.bucket,
        }
    if service == "auth":
        env["JWT_PRIVATE_KEY_FILE"] = str(secrets_.jwt_private_key_file)
    if service == "gateway":
        env["JWT_PUBLIC_KEY_FILE"] = str(secrets_.jwt_public_key_file)
        if secrets_.stream_token_secret:
            env["STREAM_TOKEN_SECRET"] = secrets_.stream_token_secret
    if service == "notifier":
        env["ALLOWED_NETWORKS"] = DEV_WEBHOOK_NETWORKS
    named = {prefix + key: value for key, value in env.items()} | config.extra_env.get(service, {})
    if name != service:
        # A replica: the service's extra settings, but its own port and name; then its own.
        named |= {prefix + key: env[key] for key in ("HTTP_PORT", "WORKER_NAME")}
        named |= config.extra_env.get(name, {})
    return named
