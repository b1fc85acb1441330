"""``devstack run``: the whole platform in the foreground until Ctrl-C or SIGTERM
(``DEVSTACK_ALIGNER_REPLICAS=N``: N aligner processes, 1 to 10, each with its own port and log).
``devstack provision``: only schemas, users and the bucket (the S3 server must be up).
``devstack keys --keys-dir DIR``: auth's JWT key pair, made once (used by docker compose).
``devstack backup|restore|migrate|smoke|dead-letters``: operator commands (devstack.ops)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from devstack.config import StackConfig, write_key_pair
from devstack.ops import OPS_COMMANDS, ops_main
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
        stack.start_services()
        print("all services ready:", flush=True)
        width = max(len(name) for name in stack.names())
        for name in stack.names():
            print(f"  {name:{width}} {stack.url(name)}  logs: {stack.config.log_file(name)}")
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in OPS_COMMANDS:
        return ops_main(argv)
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "provision", "keys"])
    parser.add_argument("--keys-dir", type=Path, default=Path("/keys"), help="for `keys`")
    args = parser.parse_args(argv)
    if args.command == "keys":
        write_key_pair(args.keys_dir / "jwt.pem", args.keys_dir / "jwt.pub.pem")
        return 0
    try:
        config = StackConfig.from_env(default_state_dir())
    except (ValueError, RuntimeError) as exc:  # e.g. DEVSTACK_ALIGNER_REPLICAS=0
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stack = Stack(config)
    if args.command == "provision":
        stack.start_infrastructure()
        stack.stop()
        return 0
    return run(stack)


if __name__ == "__main__":
    sys.exit(main())
