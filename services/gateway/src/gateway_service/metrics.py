"""The gateway's metrics: jobs by plan and engine (it is the one service that knows both),
how long jobs wait, submit latency, and what it refuses (quotas, uploads)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.requests import Request

from servicekit.metrics import LATENCY_BUCKETS

__all__ = [
    "JOBS_CANCELLED",
    "JOBS_COMPLETED",
    "JOBS_FAILED",
    "JOBS_OLDEST_WAITING_SECONDS",
    "JOBS_SUBMITTED",
    "JOBS_WAITING",
    "JOB_SUBMIT_SECONDS",
    "QUOTA_CODES",
    "QUOTA_REFUSALS",
    "SUBMITS_REFUSED",
    "count_finished",
    "count_refusal",
    "engine_label",
    "observe_submit",
    "plan_label",
    "submitting",
]

# Labels: plan (free, pro, admin ... "unknown" for a job recorded before plans were kept),
# engine (as asked; "default" when the job left it to the aligner).
JOBS_SUBMITTED = Counter("jobs_submitted_total", "Jobs accepted (202)", ["plan", "engine"])
JOBS_COMPLETED = Counter("jobs_completed_total", "Jobs that reached COMPLETED", ["plan", "engine"])
JOBS_FAILED = Counter(
    "jobs_failed_total",
    "Jobs that reached FAILED, by reason: files_rejected (storage refused every pair), "
    "alignment_failed (the aligner failed every file)",
    ["plan", "engine", "reason"],
)
JOBS_CANCELLED = Counter(
    "jobs_cancelled_total", "Jobs deleted by their owner before they finished", ["plan", "engine"]
)
JOBS_WAITING = Gauge(
    "jobs_waiting", "Jobs not yet started by an aligner (PENDING or STORED; sampled)", ["plan"]
)
JOBS_OLDEST_WAITING_SECONDS = Gauge(
    "jobs_oldest_waiting_seconds",
    "Age of the oldest job not yet started by an aligner, 0 when none waits (sampled)",
    ["plan"],
)
JOB_SUBMIT_SECONDS = Histogram(
    "job_submit_seconds",
    "Server time of an accepted submit, the upload's own time (streaming the parts, "
    "unpacking a zip) left out: quota check, reservation, recording the job",
    ["plan"],
    buckets=LATENCY_BUCKETS,
)
QUOTA_REFUSALS = Counter(
    "quota_refusals_total",
    "Submits refused by the plan's quota (too_many_concurrent_jobs, minutes_quota_exceeded, "
    "storage_quota_exceeded, file_too_large, too_many_files ...)",
    ["plan", "reason"],
)
SUBMITS_REFUSED = Counter(
    "submits_refused_total",
    "Submits refused before any job existed, by error code (payload_too_large, "
    "invalid_upload, unmatched_files, zip_*, invalid_submission, rate_limited, the "
    "quota's codes ...)",
    ["reason"],
)

# What auth's reservation may refuse (contracts.rpc.quota_refusal and auth's QuotaExceeded).
QUOTA_CODES = frozenset(
    {
        "too_many_concurrent_jobs",
        "minutes_quota_exceeded",
        "storage_quota_exceeded",
        "file_too_large",
        "too_many_files",
    }
)


def plan_label(plan: str | None) -> str:
    """Plans are a few rows an operator keeps (subscription_types): a bounded label."""
    return plan or "unknown"


def engine_label(engine: str | None) -> str:
    return engine or "default"


def count_finished(status: str, plan: str | None, engine: str | None, reason: str) -> None:
    """A job reached ``status`` (once: called after the commit that recorded it)."""
    labels = (plan_label(plan), engine_label(engine))
    if status == "COMPLETED":
        JOBS_COMPLETED.labels(*labels).inc()
    elif status == "FAILED":
        JOBS_FAILED.labels(*labels, reason).inc()
    elif status == "CANCELLED":
        JOBS_CANCELLED.labels(*labels).inc()


def submitting(request: Request) -> None:
    """Marks the request as a submit: its refusals are counted by ``count_refusal``, and
    its time from here by ``observe_submit``."""
    request.state.submitting = time.perf_counter()


def observe_submit(request: Request, plan: str | None) -> None:
    """A job was accepted: its submit's time, less the upload's own (``upload_seconds``)."""
    started = getattr(request.state, "submitting", None)
    if started is None:
        return
    upload = getattr(request.state, "upload_seconds", 0.0)
    seconds = time.perf_counter() - started - upload
    JOB_SUBMIT_SECONDS.labels(plan_label(plan)).observe(max(0.0, seconds))


def count_refusal(request: Request, code: str) -> None:
    """Called by the error handlers: a submit refused with ``code``."""
    if getattr(request.state, "submitting", None) is None:
        return
    SUBMITS_REFUSED.labels(code).inc()
    if code in QUOTA_CODES:
        QUOTA_REFUSALS.labels(plan_label(getattr(request.state, "plan", None)), code).inc()
