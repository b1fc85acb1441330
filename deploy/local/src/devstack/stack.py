"""Starts and stops the whole platform as local processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devstack.config import SERVICES, Secrets, StackConfig, service_env
from devstack.processes import stop_process
from devstack.prometheus import PrometheusServer
from devstack.provision import drop_databases, ensure_bucket, provision_databases, remove_bucket
from devstack.s3server import S3Server
from servicekit.messaging import RETRY_QUEUE_DELAYS

__all__ = ["Stack"]

STOP_GRACE_SECONDS = 20
EXCHANGES = (
    "alignment.events",
    "alignment.dead-letter",
    "alignment.unrouted",
    *(f"alignment.retry.{delay}s" for delay in RETRY_QUEUE_DELAYS),
)


class Stack:
    def __init__(self, config: StackConfig, *, python: str = sys.executable) -> None:
        self.config = config
        config.assign_aligner_ports()  # aligner_replicas may have changed since it was made
        self.python = python
        self.secrets = Secrets.load_or_create(config.state_dir)
        self.s3: S3Server | None = None
        self.prometheus: PrometheusServer | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    # -- infrastructure ----------------------------------------------------------------
    def start_infrastructure(self) -> None:
        if self.config.s3_endpoint is None:
            self.s3 = S3Server(
                self.config.state_dir,
                self.config.s3_port,
                self.secrets.s3_access_key,
                self.secrets.s3_secret_key,
                metrics_port=self.s3_metrics_port,
            )
            if self.s3.responding():
                raise RuntimeError(
                    f"port {self.config.s3_port} is taken: is another stack running? "
                    "(or set DEVSTACK_S3_ENDPOINT to use that S3 server)"
                )
            self.s3.start()
        provision_databases(self.config, self.secrets)
        ensure_bucket(*self.s3_credentials(), self.config.bucket)
        if self.config.prometheus_port is not None:
            self.start_prometheus(self.config.prometheus_port)

    @property
    def s3_metrics_port(self) -> int | None:
        """SeaweedFS's metrics (its disk), when a local Prometheus scrapes them."""
        if self.config.prometheus_port is None or self.config.s3_endpoint is not None:
            return None
        return self.config.s3_port + 5

    def start_prometheus(self, port: int) -> PrometheusServer:
        """A local Prometheus scraping every process of the stack (and our S3 server)."""
        metrics = self.s3_metrics_port
        self.prometheus = PrometheusServer(
            self.config, port, object_store_metrics=f"127.0.0.1:{metrics}" if metrics else None
        )
        self.prometheus.start()
        return self.prometheus

    def s3_credentials(self) -> tuple[str, str, str]:
        endpoint = self.config.s3_endpoint or f"127.0.0.1:{self.config.s3_port}"
        return (
            endpoint,
            self.config.s3_access_key or self.secrets.s3_access_key,
            self.config.s3_secret_key or self.secrets.s3_secret_key,
        )

    def env(self, service: str) -> dict[str, str]:
        """The environment of a process: a service, or an aligner replica (``aligner-2``)."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(tuple(s.upper() + "_" for s in SERVICES))
        }
        return base | service_env(self.config, self.secrets, service)

    # -- services ----------------------------------------------------------------------
    # A process is named by its service, or for the aligner's replicas 2.. "aligner-<n>"
    # (see StackConfig.aligner_replicas); each has its own port and log file.
    def names(self) -> tuple[str, ...]:
        """Every process of the stack, in start order."""
        return self.config.process_names()

    def aligner_names(self) -> tuple[str, ...]:
        """``("aligner", "aligner-2", ...)``: one per aligner replica."""
        return self.config.aligner_names()

    def start_service(self, service: str) -> subprocess.Popen[bytes]:
        self.config.logs_dir.mkdir(parents=True, exist_ok=True)
        log = self.config.log_file(service).open("ab")
        process = subprocess.Popen(
            [self.python, "-m", f"{self.config.service_of(service)}_service"],
            env=self.env(service),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
        )
        self.processes[service] = process
        return process

    def start_services(self, timeout: float = 90.0) -> None:
        """Starts every process and waits until all are ready. Aligner replicas 2.. start
        once the first is ready: each process upgrades the schema at start, and Alembic
        upgrades of one fresh schema from several processes at once would race."""
        replicas = self.aligner_names()[1:]
        for name in self.names():
            if name not in replicas:
                self.start_service(name)
        if replicas:
            self.wait_ready(("aligner",), timeout)
            for name in replicas:
                self.start_service(name)
        self.wait_ready(timeout=timeout)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.config.ports[service]}"

    def wait_ready(self, services: tuple[str, ...] | None = None, timeout: float = 90.0) -> None:
        """Until each process (all of them by default) answers 200 on /readyz."""
        deadline = time.monotonic() + timeout
        waiting = list(self.names() if services is None else services)
        while waiting:
            for service in list(waiting):
                process = self.processes.get(service)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(
                        f"{service} exited with {process.returncode}; "
                        f"see {self.config.log_file(service)}"
                    )
                try:
                    if httpx.get(self.url(service) + "/readyz", timeout=3).status_code == 200:
                        waiting.remove(service)
                except httpx.HTTPError:
                    pass
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout} s: {', '.join(waiting)}")
            if waiting:
                time.sleep(0.3)

    def stop_service(self, service: str, *, kill: bool = False) -> None:
        stop_process(self.processes.pop(service, None), kill=kill, grace_seconds=STOP_GRACE_SECONDS)

    def start(self) -> None:
        self.start_infrastructure()
        self.start_services()

    def stop(self) -> None:
        running = list(self.processes.values())
        for process in running:  # all at once: each drains its own work in parallel
            if process.poll() is None:
                process.terminate()
        for service in list(self.processes):
            self.stop_service(service)
        if self.prometheus:
            self.prometheus.stop()
        if self.s3:
            self.s3.stop()

    def destroy(self) -> None:
        """Stop, then remove what lives outside the state folder (kept for its logs):
        schemas, users, queues and exchanges, the bucket."""
        self.stop()
        drop_databases(self.config)
        if self.config.namespace:
            delete_rabbitmq_namespace(self.config.amqp_url, self.config.namespace)
        if self.config.s3_endpoint:
            remove_bucket(*self.s3_credentials(), self.config.bucket)


def delete_rabbitmq_namespace(amqp_url: str, namespace: str) -> None:
    """Test runs leave no queues or exchanges behind on the shared broker. Queues are
    listed with rabbitmqctl where it exists (AMQP cannot list); exchanges are known."""
    import asyncio

    import aio_pika

    ctl = shutil.which("rabbitmqctl")
    listed = (
        subprocess.run(
            [ctl, "-q", "list_queues", "name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if ctl
        else None
    )
    queues = [q for q in (listed.stdout.split() if listed else []) if q.startswith(namespace + ".")]
    exchanges = [f"{namespace}.{base}" for base in EXCHANGES]

    async def delete() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            for queue in queues:
                await channel.queue_delete(queue)
            for exchange in exchanges:
                await channel.exchange_delete(exchange)

    asyncio.run(delete())


def default_state_dir() -> Path:
    return Path(os.environ.get("DEVSTACK_STATE_DIR", Path.cwd() / ".dev"))
