"""A valid upload is accepted however its bytes are cut on the way: the same 10 pairs, sent
10 times in small odd-sized chunks, are accepted every time with all their pairs."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from python_multipart.multipart import parse_options_header

from devstack import Stack
from tests.e2e.helpers import EVAL, eval_pair, pair_files, user_on_plan

pytestmark = pytest.mark.e2e

PAIRS = [f"timit/{wav.stem}" for wav in sorted((EVAL / "timit").glob("*.wav"))[:10]]
SIZES = (1, 7, 13, 61, 509)


def part_heads(body: bytes, boundary: bytes) -> list[tuple[int, int]]:
    """Where each boundary line and the part headers after it are, in the body."""
    heads: list[tuple[int, int]] = []
    start = body.find(b"--" + boundary)
    while start != -1:
        end = body.find(b"\r\n\r\n", start)
        heads.append((start, len(body) if end == -1 else end + 4))
        start = body.find(b"\r\n--" + boundary, start + 1)
    return heads


def dribble(body: bytes, boundary: bytes, shift: int) -> Iterator[bytes]:
    """The body in chunks of the sizes in SIZES, over and over from SIZES[shift]. After a
    chunk that ends in a part's headers the sender pauses, so that the gateway reads that
    chunk on its own (elsewhere chunks may merge on the way, as they do)."""
    heads = part_heads(body, boundary)
    sizes = itertools.islice(itertools.cycle(SIZES), shift, None)
    at = 0
    while at < len(body):
        size = next(sizes)
        yield body[at : at + size]
        at += size
        if any(start < at < end for start, end in heads):
            time.sleep(0.01)


def test_an_upload_in_small_odd_chunks_is_accepted_every_time(stack: Stack) -> None:
    user = user_on_plan(stack, max_concurrent_jobs=20, max_files_per_job=10)
    pairs = [eval_pair(name) for name in PAIRS]
    assert len(pairs) == 10
    form = user.client.build_request(
        "POST", "/alignment/", files=pair_files(*pairs), data={"language": "en"}
    )
    body = form.read()
    content_type = form.headers["Content-Type"]
    boundary = parse_options_header(content_type)[1][b"boundary"]
    # Each small chunk in its own TCP segment: no waiting to coalesce them (Nagle).
    nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    client = httpx.Client(
        base_url=user.client.base_url, headers=user.client.headers, transport=nodelay, timeout=60
    )
    job_ids: list[str] = []
    try:
        for attempt in range(10):
            headers = {"Content-Type": content_type}
            if attempt % 2:  # half with a Content-Length, half chunked
                headers["Content-Length"] = str(len(body))
            response = client.post(
                "/alignment/", content=dribble(body, boundary, attempt), headers=headers
            )
            assert response.status_code == 202, f"attempt {attempt}: {response.text}"
            job = response.json()
            job_ids.append(job["id"])
            assert sorted((f["audio_name"], f["text_name"]) for f in job["files"]) == sorted(
                (audio, text) for audio, _, text, _ in pairs
            ), f"attempt {attempt}"
            assert job["language"] == "en"
    finally:
        for job_id in job_ids:
            deleted = client.delete(f"/alignment/{job_id}")
            assert deleted.status_code == 202, deleted.text
        client.close()
