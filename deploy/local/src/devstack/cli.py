"""``devstack run``: the whole platform in the foreground until Ctrl-C or SIGTERM.
``devstack provision``: only schemas, users and the bucket (the S3 server must be up).
``devstack keys --keys-dir DIR``: auth's JWT key pair, made once (used by docker compose)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from devstack.config import SERVICES, StackConfig, write_key_pair
from devstack.stack import Stack, default_state_dir


def run(stack: Stack) -> int:
    stopping = False

    def request_stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        print(f"starting infrastructure (state in {stack.config.state_dir})", flush=True)
        stack.start_infrastructure()
        for service in SERVICES:
            stack.start_service(service)
        stack.wait_ready()
        print("all services ready:", flush=True)
        for service in SERVICES:
            print(
                f"  {service:8} {stack.url(service)}  logs: {stack.config.logs_dir}/{service}.log"
            )
        print(f"gateway API: {stack.url('gateway')}/api/v1  docs: {stack.url('gateway')}/docs")
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            for service, process in list(stack.processes.items()):
                if process.poll() is not None:
                    print(f"{service} exited with {process.returncode}; stopping", flush=True)
                    return 1
            time.sleep(0.5)
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping all services", flush=True)
        stack.stop()
        print("stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "provision", "keys"])
    parser.add_argument("--keys-dir", type=Path, default=Path("/keys"), help="for `keys`")
    args = parser.parse_args(argv)
    if args.command == "keys":
        write_key_pair(args.keys_dir / "jwt.pem", args.keys_dir / "jwt.pub.pem")
        return 0
    stack = Stack(StackConfig.from_env(default_state_dir()))
    if args.command == "provision":
        stack.start_infrastructure()
        stack.stop()
        return 0
    return run(stack)


if __name__ == "__main__":
    sys.exit(main())
