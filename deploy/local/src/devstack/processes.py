"""Helper servers the devstack runs beside the services (S3, Prometheus): started with
their output in a log, waited for until they answer, stopped politely then firmly."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["start_until_ready", "stop_process"]

STOP_GRACE_SECONDS = 10


def start_until_ready(
    command: list[str],
    log_path: Path,
    ready: Callable[[], bool],
    *,
    timeout: float,
    exited: Callable[[int | None], str],
    not_ready: str,
) -> subprocess.Popen[bytes]:
    """The started process once ``ready()``; RuntimeError if it exits first (``exited`` of
    its return code) or is not ready within ``timeout`` s (``not_ready``; stopped)."""
    log = log_path.open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(exited(process.returncode))
        if time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(not_ready)
        time.sleep(0.2)
    return process


def stop_process(
    process: subprocess.Popen[bytes] | None,
    *,
    kill: bool = False,
    grace_seconds: float = STOP_GRACE_SECONDS,
) -> None:
    """SIGTERM (SIGKILL at once with ``kill``), then SIGKILL if it is still there after
    ``grace_seconds``."""
    if process is None or process.poll() is not None:
        return
    if kill:
        process.kill()
    else:
        process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
