"""``make bench-load``: the platform under load, on a stack this script starts itself.

Prints a table (and writes it to --out as Markdown):
  (a) submit latency p50/p95/p99 (server time from Server-Timing, and the client's) and
      error rate at 20 and 50 concurrent users (Locust, headless);
  (b) files per minute for one 48-file corpus job and for 48 one-file jobs (6 users), with
      1, 2 and 4 aligner replicas, and the speed-ups;
  (c) the gateway's peak RSS while a 1 GB file is uploaded, and while one is downloaded;
  (d) database queries per second (MariaDB's Questions counter) with 0, 1 and 200 open
      event streams;
  (e) submit -> COMPLETED for one short file.
Uses MariaDB and RabbitMQ from TEST_MYSQL_URL / TEST_AMQP_URL (local defaults), its own
SeaweedFS, and the shared evaluation set's TIMIT utterances.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx

from devstack import Stack
from devstack.config import StackConfig
from devstack.provision import admin_connection
from devstack.s3server import S3Server
from devstack.testing import (
    Infrastructure,
    free_port_block,
    isolated_stack_config,
    running_stack,
)
from tests.e2e.helpers import EVAL, User, add_plan, eval_pair, new_user, query, wait_for

CORPUS = 48
WARM_UP_SECONDS = 5
SHORT_PAIR = EVAL / "timit" / "dr4-falr0_sx65"
GIB = 2**30
BENCH_PLAN = {
    "storage_bytes": 100 * GIB,
    "audio_minutes_per_month": 10_000_000,
    "max_file_bytes": 2 * GIB,
    "max_files_per_job": 5000,
    "max_concurrent_jobs": 100_000,
    "retention_days": 3,
    "queue_priority": 1,
}


def utterances() -> list[str]:
    names = sorted(p.with_suffix("").name for p in (EVAL / "timit").glob("*.wav"))
    return [f"timit/{n}" for n in names[:CORPUS]]


def bench_config(infrastructure: Infrastructure, replicas: int) -> StackConfig:
    config = isolated_stack_config(
        infrastructure, Path(tempfile.mkdtemp(prefix="bench-")), aligner_replicas=replicas
    )
    config.extra_env["gateway"] |= {
        "GATEWAY_MAX_FILE_BYTES": str(2 * GIB),
        "GATEWAY_RATE_LIMITS__SUBMIT_PER_USER": "1000000/minute",
        "GATEWAY_RATE_LIMITS__LOGIN_PER_EMAIL": "1000000/minute",
    }
    return config


def bench_users(stack: Stack, count: int) -> list[User]:
    plan = "bench" + secrets.token_hex(4)
    add_plan(stack, plan, **BENCH_PLAN)
    users = [new_user(stack) for _ in range(count)]
    # As `auth set-subscription` does, for all of them at once (one process, not one each).
    query(
        stack,
        "auth",
        "UPDATE users SET subscription = %s WHERE email IN ("
        + ", ".join(["%s"] * len(users))
        + ")",
        plan,
        *(user.email for user in users),
    )
    return users


def token_of(user: User) -> str:
    return str(user.client.headers["authorization"]).removeprefix("Bearer ")


# -- (a) submit latency --------------------------------------------------------------------


def submit_latency(stack: Stack, users: int, seconds: int, work: Path) -> dict[str, Any]:
    accounts = bench_users(stack, users)
    tokens = work / f"tokens-{users}.txt"
    tokens.write_text("\n".join(token_of(u) for u in accounts))
    prefix = work / f"locust-{users}"
    samples = work / f"samples-{users}.txt"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(Path(__file__).with_name("locustfile.py")),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            stack.url("gateway"),
            "--csv",
            str(prefix),
            "--loglevel",
            "WARNING",
        ],
        env=os.environ
        | {
            "BENCH_TOKENS": str(tokens),
            "BENCH_PAIR": str(SHORT_PAIR),
            "BENCH_SAMPLES": str(samples),
        },
        check=False,
        capture_output=True,
        timeout=seconds + 120,
    )
    rows = {
        (r["Type"], r["Name"]): r
        for r in csv.DictReader((prefix.parent / (prefix.name + "_stats.csv")).open())
    }
    client, server = rows[("POST", "/api/v1/alignment/")], rows[("SERVER", "submit")]
    requests = int(client["Request Count"])
    # Steady state: without the first seconds, when every user's first submit comes at once.
    timed = [tuple(map(float, line.split())) for line in samples.read_text().splitlines()]
    start = min(t for t, _ in timed)
    steady = sorted(ms for t, ms in timed if t >= start + WARM_UP_SECONDS)
    stages = {
        name: (float(row["50%"]), float(row["95%"]))
        for (kind, name), row in rows.items()
        if kind == "SERVER" and name != "submit"
    }
    return {
        "requests": requests,
        "steady_p50": percentile(steady, 50),
        "steady_p95": percentile(steady, 95),
        "steady_p99": percentile(steady, 99),
        "stages": stages,
        "error_rate": int(client["Failure Count"]) / max(requests, 1),
        "server_p50": float(server["50%"]),
        "server_p95": float(server["95%"]),
        "server_p99": float(server["99%"]),
        "client_p50": float(client["50%"]),
        "client_p95": float(client["95%"]),
        "client_p99": float(client["99%"]),
    }


def percentile(ordered: list[float], p: int) -> float:
    return ordered[min(len(ordered) - 1, len(ordered) * p // 100)] if ordered else float("nan")


# -- (b) throughput --------------------------------------------------------------------


def corpus_minutes(stack: Stack) -> float:
    [user] = bench_users(stack, 1)
    pairs = [eval_pair(name) for name in utterances()]
    started = time.monotonic()
    response = user.client.post(
        "/alignment/",
        files=[
            f
            for a, ab, t, tb in pairs
            for f in (("audio_files[]", (a, ab)), ("text_files[]", (t, tb)))
        ],
    )
    assert response.status_code == 202, response.text
    job = wait_for(user, response.json()["id"], timeout=900)
    assert job["status"] == "COMPLETED", job
    return (time.monotonic() - started) / 60


def single_jobs_minutes(stack: Stack) -> float:
    users = bench_users(stack, 6)
    pairs = [eval_pair(name) for name in utterances()]
    started = time.monotonic()
    submitted: list[tuple[User, str]] = []
    for i, (a, ab, t, tb) in enumerate(pairs):
        user = users[i % len(users)]
        files = [("audio_files[]", (a, ab)), ("text_files[]", (t, tb))]
        response = user.client.post("/alignment/", files=files)
        assert response.status_code == 202, response.text
        submitted.append((user, response.json()["id"]))
    for user, job_id in submitted:
        assert wait_for(user, job_id, timeout=900)["status"] == "COMPLETED"
    return (time.monotonic() - started) / 60


def one_file_seconds(stack: Stack, jobs: int = 10) -> list[float]:
    """Submit -> COMPLETED of one short pair, one job at a time (polled every 20 ms)."""
    [user] = bench_users(stack, 1)
    files = [
        ("audio_files[]", ("a.wav", SHORT_PAIR.with_suffix(".wav").read_bytes())),
        ("text_files[]", ("a.txt", SHORT_PAIR.with_suffix(".txt").read_bytes())),
    ]
    took: list[float] = []
    for _ in range(jobs):
        started = time.monotonic()
        job_id = user.client.post("/alignment/", files=files).json()["id"]
        while user.client.get(f"/alignment/{job_id}").json()["status"] != "COMPLETED":
            assert time.monotonic() - started < 60, "a one-file job took a minute"
            time.sleep(0.02)
        took.append(time.monotonic() - started)
    return sorted(took)


# -- (c) gateway memory ---------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def peak_rss(pid: int) -> Iterator[list[float]]:
    """[before, peak] of the process's RSS while the block runs (sampled every 50 ms)."""
    found = [rss_mib(pid), rss_mib(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            found[1] = max(found[1], rss_mib(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        done.set()
        thread.join()


def wav_header(data_bytes: int) -> bytes:
    rate, channels, bits = 16000, 1, 16
    block = channels * bits // 8
    return (
        b"RIFF"
        + (36 + data_bytes).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + channels.to_bytes(2, "little")
        + rate.to_bytes(4, "little")
        + (rate * block).to_bytes(4, "little")
        + block.to_bytes(2, "little")
        + bits.to_bytes(2, "little")
        + b"data"
        + data_bytes.to_bytes(4, "little")
    )


def big_upload(size: int) -> tuple[str, Iterator[bytes]]:
    """The content type and a multipart body with one audio file of ``size`` bytes (made
    as it is sent)."""
    boundary = "bench" + secrets.token_hex(8)

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio_files[]"; '
            f'filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n'
        ).encode()
        yield wav_header(size - 44)
        chunk = bytes(1 << 20)
        left = size - 44
        while left > 0:
            yield chunk[: min(left, len(chunk))]
            left -= len(chunk)
        yield (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="text_files[]"; '
            f'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\nsilence\r\n'
            f"--{boundary}--\r\n"
        ).encode()

    return f"multipart/form-data; boundary={boundary}", body()


def gateway_memory(stack: Stack) -> dict[str, float]:
    [user] = bench_users(stack, 1)
    pid = stack.processes["gateway"].pid
    content_type, body = big_upload(GIB)
    with peak_rss(pid) as upload:
        response = user.client.post(
            "/alignment/", content=body, headers={"content-type": content_type}, timeout=600
        )
    assert response.status_code == 202, response.text
    # The download: a finished job whose stored audio is replaced by 1 GB in S3.
    small = user.client.post(
        "/alignment/",
        files=[
            ("audio_files[]", ("a.wav", SHORT_PAIR.with_suffix(".wav").read_bytes())),
            ("text_files[]", ("a.txt", SHORT_PAIR.with_suffix(".txt").read_bytes())),
        ],
    )
    job = wait_for(user, small.json()["id"])
    file_id = job["files"][0]["id"]
    key = f"{user.id}/corpus/{job['id']}/{file_id}.wav"
    asyncio.run(put_big_object(stack, key, GIB))
    received = 0
    with (
        peak_rss(pid) as download,
        user.client.stream(
            "GET", f"/alignment/{job['id']}/download/audio", params={"file_id": file_id}
        ) as stream,
    ):
        for data in stream.iter_bytes(1 << 20):
            received += len(data)
    assert received == GIB, received
    return {
        "upload_before": upload[0],
        "upload_peak": upload[1],
        "download_before": download[0],
        "download_peak": download[1],
    }


async def put_big_object(stack: Stack, key: str, size: int) -> None:
    from miniopy_async.api import Minio

    endpoint, access, secret = stack.s3_credentials()
    client = Minio(endpoint, access_key=access, secret_key=secret, secure=False)

    class Zeros:
        def __init__(self) -> None:
            self.left = size - 44
            self.head = wav_header(size - 44)

        async def read(self, n: int) -> bytes:
            if self.head:
                data, self.head = self.head[:n], self.head[n:]
                return data
            data = bytes(min(n, self.left))
            self.left -= len(data)
            return data

    try:
        await client.put_object(
            stack.config.bucket,
            key,
            cast(Any, Zeros()),
            size,
            content_type="audio/wav",
            part_size=64 << 20,
        )
    finally:
        await client.close_session()  # type: ignore[no-untyped-call]


# -- (d) event streams ----------------------------------------------------------------------


def questions(stack: Stack) -> int:
    connection = admin_connection(stack.config.mysql_admin_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
            (_, value) = cursor.fetchone()  # type: ignore[misc]
            return int(value)
    finally:
        connection.close()


def queries_per_second(stack: Stack, streams: int, seconds: float = 10.0) -> tuple[float, float]:
    """Statements per second: all MariaDB's (every service's), and the event streams'."""
    [user] = bench_users(stack, 1)
    response = user.client.post(
        "/alignment/",
        files=[
            ("audio_files[]", ("a.wav", SHORT_PAIR.with_suffix(".wav").read_bytes())),
            ("text_files[]", ("a.txt", SHORT_PAIR.with_suffix(".txt").read_bytes())),
        ],
    )
    job_id = response.json()["id"]
    wait_for(user, job_id, done={"STORED"})

    async def measure() -> tuple[float, float]:
        token = token_of(user)
        limits = httpx.Limits(max_connections=streams + 10)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            opened = asyncio.Event()
            count = [0]

            async def listen() -> None:
                async with client.stream(
                    "GET",
                    f"{stack.url('gateway')}/api/v1/alignment/{job_id}/events",
                    headers={"authorization": f"Bearer {token}", "x-bench-keep": "1"},
                ) as stream:
                    count[0] += 1
                    if count[0] == streams:
                        opened.set()
                    async for _ in stream.aiter_bytes():
                        pass

            tasks = [asyncio.create_task(listen()) for _ in range(streams)]
            if streams:
                await asyncio.wait_for(opened.wait(), 60)
            await asyncio.sleep(1.0)
            before = await asyncio.to_thread(questions, stack)
            streams_before = await asyncio.to_thread(stream_queries, stack)
            await asyncio.sleep(seconds)
            after = await asyncio.to_thread(questions, stack)
            streams_after = await asyncio.to_thread(stream_queries, stack)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return (after - before) / seconds, (streams_after - streams_before) / seconds

    return asyncio.run(measure())


def stream_queries(stack: Stack) -> float:
    """The gateway's own count of the statements its event streams ran."""
    text = httpx.get(stack.url("gateway") + "/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gateway_event_stream_queries_total{")
    )


# -- the run -------------------------------------------------------------------------------


def infrastructure(work: Path) -> tuple[Infrastructure, S3Server]:
    access, secret = "bench" + secrets.token_hex(6), secrets.token_urlsafe(24)
    server = S3Server(work / "s3", free_port_block(), access, secret)
    server.start()
    return (
        Infrastructure(
            os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
            os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            server.endpoint,
            access,
            secret,
        ),
        server,
    )


def latency_line(what: str, found: dict[str, Any]) -> str:
    stages = ", ".join(
        f"{name} {p50:.0f}/{p95:.0f}" for name, (p50, p95) in found["stages"].items()
    )
    return (
        f"| (a) submit, {what} | server p50/p95/p99 {found['server_p50']:.0f}/"
        f"{found['server_p95']:.0f}/{found['server_p99']:.0f} ms (after the first "
        f"{WARM_UP_SECONDS} s: {found['steady_p50']:.0f}/{found['steady_p95']:.0f}/"
        f"{found['steady_p99']:.0f} ms); client p50/p95/p99 "
        f"{found['client_p50']:.0f}/{found['client_p95']:.0f}/{found['client_p99']:.0f} ms; "
        f"{found['requests']:.0f} submits, errors {found['error_rate']:.1%}; stages p50/p95 "
        f"{stages} |"
    )


def timed_section(name: str, run: Callable[[], Any]) -> Any:
    print(f"-- {name}", flush=True)
    started = time.monotonic()
    result = run()
    print(f"   {result}  ({time.monotonic() - started:.0f} s)", flush=True)
    return result


def submit_section(infra: Infrastructure, seconds: int, work: Path) -> list[str]:
    lines: list[str] = []
    with running_stack(bench_config(infra, 1)) as stack:
        # The gateway's own time, with the workers stopped: on this 2-core machine storage's
        # ffmpeg and the aligner would otherwise take the cores the gateway answers with (in
        # production they run on other nodes).
        for worker in ("storage", *stack.aligner_names()):
            stack.stop_service(worker)
        for users in (20, 50):
            found = timed_section(
                f"(a) submit, {users} users",
                lambda u=users: submit_latency(stack, u, seconds, work),  # type: ignore[misc]
            )
            lines.append(latency_line(f"{users} users, workers stopped", found))
    with running_stack(bench_config(infra, 1)) as stack:
        found = timed_section(
            "(a) submit, 20 users, workers running",
            lambda: submit_latency(stack, 20, seconds, work),
        )
        lines.append(latency_line("20 users, workers running (same 2 cores)", found))
    return lines


def one_stack_sections(infra: Infrastructure, skip: set[str]) -> list[str]:
    lines: list[str] = []
    with running_stack(bench_config(infra, 1)) as stack:
        if "e" not in skip:
            took = timed_section(
                "(e) one short file, submit to COMPLETED", lambda: one_file_seconds(stack)
            )
            lines.append(
                f"| (e) one short file (3 s of speech), submit -> COMPLETED, 10 jobs one "
                f"after another | median {took[len(took) // 2] * 1000:.0f} ms, "
                f"max {took[-1] * 1000:.0f} ms |"
            )
        if "d" not in skip:
            lines += stream_section(stack)
        if "c" not in skip:
            memory = timed_section("(c) 1 GB through the gateway", lambda: gateway_memory(stack))
            for what in ("upload", "download"):
                lines.append(
                    f"| (c) gateway RSS, 1 GB {what} | {memory[what + '_before']:.0f} -> "
                    f"{memory[what + '_peak']:.0f} MiB |"
                )
    return lines


def stream_section(stack: Stack) -> list[str]:
    lines: list[str] = []
    # The streams watch a job that stays open: the aligners wait meanwhile.
    for aligner in stack.aligner_names():
        stack.stop_service(aligner)
    for streams in (0, 1, 200):
        qps, of_streams = timed_section(
            f"(d) {streams} streams",
            lambda s=streams: queries_per_second(stack, s),  # type: ignore[misc]
        )
        lines.append(
            f"| (d) DB statements/s with {streams} open event streams | all services "
            f"{qps:.0f}; the streams' own {of_streams:.1f} |"
        )
    for aligner in stack.aligner_names():
        stack.start_service(aligner)
    stack.wait_ready(stack.aligner_names())
    return lines


def replicas_section(infra: Infrastructure, replicas: list[int]) -> list[str]:
    rates: dict[int, tuple[float, float]] = {}
    for count in replicas:
        with running_stack(bench_config(infra, count)) as stack:
            corpus = timed_section(
                f"(b) {CORPUS}-file corpus, {count} aligners", lambda: corpus_minutes(stack)
            )
            singles = timed_section(
                f"(b) {CORPUS} one-file jobs, {count} aligners",
                lambda: single_jobs_minutes(stack),
            )
        rates[count] = (CORPUS / corpus, CORPUS / singles)
    base = rates[min(rates)]
    return [
        f"| (b) {count} aligner(s) | corpus {corpus_rate:.0f} files/min "
        f"({CORPUS / corpus_rate * 60:.1f} s, x{corpus_rate / base[0]:.2f}); "
        f"one-file jobs {single_rate:.0f} files/min "
        f"({CORPUS / single_rate * 60:.1f} s, x{single_rate / base[1]:.2f}); "
        f"one-file jobs / corpus time {corpus_rate / single_rate:.2f} |"
        for count, (corpus_rate, single_rate) in rates.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30, help="each Locust run")
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--skip", default="", help="sections to skip, e.g. a,c")
    parser.add_argument("--out", type=Path, default=None, help="write the table here too")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so that every stack started here is removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    skip = set(args.skip.split(","))
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    infra, s3 = infrastructure(work)
    lines: list[str] = []
    try:
        if "a" not in skip:
            lines += submit_section(infra, args.seconds, work)
        if not {"c", "d", "e"} <= skip:
            lines += one_stack_sections(infra, skip)
        if "b" not in skip:
            lines += replicas_section(infra, [int(r) for r in args.replicas.split(",")])
    finally:
        s3.stop()
    header = [
        f"`make bench-load`, {datetime.now(UTC):%Y-%m-%d}, {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| measure | result |",
        "|---|---|",
    ]
    table = "\n".join(header + lines)
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
