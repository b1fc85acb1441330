"""Which webhook event a job's change of state is, if any: each final state once."""

from __future__ import annotations

from contracts.notifications import WebhookEventType
from gateway_service.domain.jobs import JobStatus

__all__ = ["FINAL_EVENTS", "finished_event"]

FINAL_EVENTS = {
    JobStatus.COMPLETED: WebhookEventType.JOB_COMPLETED,
    JobStatus.FAILED: WebhookEventType.JOB_FAILED,
    JobStatus.CANCELLED: WebhookEventType.JOB_CANCELLED,
    JobStatus.EXPIRED: WebhookEventType.JOB_EXPIRED,
}


def finished_event(before: JobStatus, after: JobStatus) -> WebhookEventType | None:
    """The event of reaching ``after`` from ``before``; None when nothing final happened.
    States only move forward, so each final state is reached (and told) at most once."""
    return FINAL_EVENTS.get(after) if after is not before else None
