"""An upload cut short (the gateway died after streaming the parts and reserving the quota,
before recording the job) leaves nothing behind once the janitor has swept incoming/:
no object, no reserved byte, and no job storage would store should it hear of it later."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from miniopy_async.api import Minio

from contracts import Envelope, JobSubmitted, SubmittedPair
from contracts.rpc import QuotaReport, ReserveQuota, RpcReply
from devstack import Stack
from servicekit.messaging import Topology
from tests.e2e.helpers import (
    User,
    eval_pair,
    eventually,
    new_user,
    object_keys,
    query,
    submit,
    usage,
    wait_for,
)
from tests.e2e.test_expiry import run_janitor

pytestmark = pytest.mark.e2e

PAIR = "timit/dr4-falr0_sx65"


def put_objects(stack: Stack, objects: dict[str, bytes]) -> None:
    """Parts written straight to S3, as the gateway streams them."""
    endpoint, access, secret = stack.s3_credentials()

    async def put() -> None:
        client = Minio(endpoint, access_key=access, secret_key=secret, secure=False)
        try:
            for key, data in objects.items():
                await client.put_object(stack.config.bucket, key, io.BytesIO(data), len(data))
        finally:
            await client.close_session()  # type: ignore[no-untyped-call]

    asyncio.run(put())


async def _rpc(stack: Stack, request: ReserveQuota) -> RpcReply[QuotaReport]:
    """The gateway's ReserveQuota to auth, over the broker as the gateway sends it."""
    connection = await aio_pika.connect(stack.config.amqp_url)
    async with connection:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        await channel.default_exchange.publish(
            aio_pika.Message(
                request.model_dump_json().encode(),
                content_type="application/json",
                correlation_id=request.correlation_id,
                reply_to=replies.name,
            ),
            routing_key=Topology(stack.config.namespace).rpc_queue(ReserveQuota).name,
        )
        async with replies.iterator(timeout=15) as messages:
            async for message in messages:
                await message.ack()
                return RpcReply[QuotaReport].model_validate_json(message.body)
    raise AssertionError("auth never answered ReserveQuota")


def publish(stack: Stack, envelope: Envelope[JobSubmitted]) -> None:
    """An event on the events exchange, as a producer's outbox relay publishes it."""

    async def send() -> None:
        connection = await aio_pika.connect(stack.config.amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(
                Topology(stack.config.namespace).events_exchange.name, ensure=False
            )
            await exchange.publish(
                aio_pika.Message(
                    envelope.model_dump_json().encode(),
                    content_type="application/json",
                    message_id=str(envelope.event_id),
                    correlation_id=envelope.correlation_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=envelope.routing_key,
            )

    asyncio.run(send())


def completed_job(stack: Stack, user: User) -> str:
    """A real job, aligned, once the janitor knows storage has answered it."""
    job_id = str(submit(user, eval_pair(PAIR)).json()["id"])
    assert wait_for(user, job_id)["status"] == "COMPLETED"
    eventually(
        lambda: bool(
            query(
                stack,
                "janitor",
                "SELECT 1 FROM submitted_jobs WHERE job_id = %s AND answered_at IS NOT NULL",
                job_id,
            )
        ),
        "the janitor never heard the job was submitted and stored",
    )
    return job_id


def test_an_abandoned_upload_is_swept_and_its_reservation_released(stack: Stack) -> None:
    user = new_user(stack)
    job_id = completed_job(stack, user)
    kept = sorted(k for k in object_keys(stack, f"{user.id}/") if job_id in k)
    assert len(kept) >= 4  # canonical audio and text, and the results

    # The gateway's half-done work: parts under incoming/ and the quota reserved for them.
    abandoned = uuid.uuid4()
    audio, text = eval_pair(PAIR)[1], eval_pair(PAIR)[3]
    parts = {
        f"incoming/{user.id}/{abandoned}/audio_files-0": audio,
        f"incoming/{user.id}/{abandoned}/text_files-0": text,
    }
    stray = f"incoming/{user.id}/{job_id}/audio_files-7"  # storage's deletion failed
    put_objects(stack, parts | {stray: b"left over"})
    reserved = len(audio) + len(text)
    reply = asyncio.run(
        _rpc(
            stack,
            ReserveQuota(
                user_id=uuid.UUID(user.id),
                job_id=abandoned,
                bytes=reserved,
                files=1,
                largest_file_bytes=len(audio),
                correlation_id=str(abandoned),
            ),
        )
    )
    assert reply.error is None, reply.error
    assert usage(user)["storage_bytes_reserved"] == reserved

    # Within the grace period nothing of it goes.
    early = run_janitor(stack, "--dry-run")["incoming"]
    assert str(abandoned) not in {a["job_id"] for a in early["abandoned"]}
    assert stray not in early["leftovers"]

    later = (datetime.now(UTC) + timedelta(hours=2)).replace(tzinfo=None).isoformat()
    report = run_janitor(stack, "--now", later)["incoming"]
    [swept] = [a for a in report["abandoned"] if a["job_id"] == str(abandoned)]
    assert swept["user_id"] == user.id and sorted(swept["objects"]) == sorted(parts)
    assert stray in report["leftovers"]
    assert str(job_id) not in {a["job_id"] for a in report["abandoned"]}

    assert object_keys(stack, f"incoming/{user.id}/") == []
    eventually(
        lambda: usage(user)["storage_bytes_reserved"] == 0,
        f"the abandoned upload's bytes are still reserved: {usage(user)}",
    )
    assert (
        query(stack, "auth", "SELECT 1 FROM reservations WHERE job_id = %s", str(abandoned)) == []
    )

    # The real job is untouched.
    assert sorted(k for k in object_keys(stack, f"{user.id}/") if job_id in k) == kept
    assert user.client.get(f"/alignment/{job_id}/download/audio").status_code == 200
    assert wait_for(user, job_id)["status"] == "COMPLETED"

    # Its JobSubmitted, coming after all, does not bring the job back.
    eventually(
        lambda: bool(
            query(
                stack,
                "storage",
                "SELECT 1 FROM abandoned_uploads WHERE job_id = %s",
                str(abandoned),
            )
        ),
        "storage never heard the upload was abandoned",
    )
    late = JobSubmitted(
        job_id=abandoned,
        user_id=uuid.UUID(user.id),
        pairs=[
            SubmittedPair(
                file_id=uuid.uuid4(),
                index=0,
                stem="late",
                audio_name="late.wav",
                audio_key=f"incoming/{user.id}/{abandoned}/audio_files-0",
                audio_bytes=len(audio),
                text_name="late.txt",
                text_key=f"incoming/{user.id}/{abandoned}/text_files-0",
                text_bytes=len(text),
            )
        ],
    )
    publish(stack, Envelope.wrap(late, producer="gateway", correlation_id=str(abandoned)))
    eventually(
        lambda: any(
            str(abandoned) in body and "upload_abandoned" in body
            for (body,) in query(
                stack, "storage", "SELECT body FROM outbox WHERE routing_key = 'files.rejected.v1'"
            )
        ),
        "storage never refused the abandoned job",
    )
    assert (
        query(stack, "storage", "SELECT 1 FROM corpus_files WHERE job_id = %s", str(abandoned))
        == []
    )
    assert object_keys(stack, f"{user.id}/corpus/{abandoned}/") == []
