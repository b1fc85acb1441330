"""Locust users for ``make bench-load``: each submits one short pair about once a second
(a pause of 0.5-1.5 s between submits, as a person or a script uploading file after file
would) with an account of its own (tokens handed in by the bench through BENCH_TOKENS, one
per line).
Besides the client's time, each submit's server time (its Server-Timing header) is
recorded as a request of type SERVER, so Locust's own statistics give its percentiles, and
written with its time of day to BENCH_SAMPLES (one "unix-time server-ms" line per submit), so
the bench can leave out the first seconds, when every user submits at the same instant."""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path

from locust import HttpUser, between, events, task

PAIR = Path(os.environ["BENCH_PAIR"])  # path without suffix: .wav and .txt beside it
AUDIO = PAIR.with_suffix(".wav").read_bytes()
TEXT = PAIR.with_suffix(".txt").read_bytes()
TOKENS = itertools.cycle(Path(os.environ["BENCH_TOKENS"]).read_text().split())
# Open for the process's life, line-buffered: Locust ends its users without a hook of ours.
SAMPLES = Path(os.environ["BENCH_SAMPLES"]).open("a", buffering=1)  # noqa: SIM115
SERVER_TIMING = re.compile(r"([a-z_]+);dur=([0-9.]+)")


class Submitter(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.client.headers["authorization"] = f"Bearer {next(TOKENS)}"

    @task
    def submit(self) -> None:
        files = [
            ("audio_files[]", (PAIR.name + ".wav", AUDIO)),
            ("text_files[]", (PAIR.name + ".txt", TEXT)),
        ]
        with self.client.post("/api/v1/alignment/", files=files, catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            # The whole ("app", reported as "submit") and each stage the gateway timed.
            for name, ms in SERVER_TIMING.findall(response.headers.get("server-timing", "")):
                if name == "app":
                    SAMPLES.write(f"{time.time():.3f} {ms}\n")
                events.request.fire(  # type: ignore[no-untyped-call]
                    request_type="SERVER",
                    name="submit" if name == "app" else name,
                    response_time=float(ms),
                    response_length=0,
                    exception=None,
                    context={},
                )
