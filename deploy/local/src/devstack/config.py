"""What a stack is made of, and the environment each service process gets."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = ["SERVICES", "Secrets", "StackConfig", "service_env"]

SERVICES = ("auth", "storage", "aligner", "janitor", "gateway")
USES_S3 = frozenset({"gateway", "storage", "aligner", "janitor"})
DEFAULT_PORTS = {"gateway": 8000, "auth": 8001, "storage": 8002, "aligner": 8003, "janitor": 8004}


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

    @classmethod
    def from_env(cls, state_dir: Path) -> StackConfig:
        config = cls(state_dir=state_dir)
        config.mysql_admin_url = os.environ.get("DEVSTACK_MYSQL_ADMIN_URL", config.mysql_admin_url)
        config.amqp_url = os.environ.get("DEVSTACK_AMQP_URL", config.amqp_url)
        config.s3_endpoint = os.environ.get("DEVSTACK_S3_ENDPOINT") or None
        config.s3_access_key = os.environ.get("DEVSTACK_S3_ACCESS_KEY")
        config.s3_secret_key = os.environ.get("DEVSTACK_S3_SECRET_KEY")
        return config

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def schema(self, service: str) -> str:
        return f"{self.db_prefix}{service}"


@dataclass(frozen=True)
class Secrets:
    db_passwords: dict[str, str]
    s3_access_key: str
    s3_secret_key: str
    jwt_private_key_file: Path
    jwt_public_key_file: Path

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
        private, public = state_dir / "jwt-ed25519.pem", state_dir / "jwt-ed25519.pub.pem"
        write_key_pair(private, public)
        return cls(
            db_passwords=stored["db_passwords"],
            s3_access_key=stored["s3_access_key"],
            s3_secret_key=stored["s3_secret_key"],
            jwt_private_key_file=private,
            jwt_public_key_file=public,
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


def service_env(config: StackConfig, secrets_: Secrets, service: str) -> dict[str, str]:
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
        "HTTP_PORT": str(config.ports[service]),
    }
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
    return {prefix + key: value for key, value in env.items()} | config.extra_env.get(service, {})
