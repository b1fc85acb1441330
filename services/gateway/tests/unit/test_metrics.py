"""The gateway's counters: final states by plan, engine and reason; refusals of submits
only (and the quota's by plan); a submit's time without its upload."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY
from starlette.requests import Request

from gateway_service.metrics import count_finished, count_refusal, observe_submit, submitting


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": []})


def test_final_states_are_counted_by_plan_engine_and_reason() -> None:
    completed = {"plan": "unit-pro", "engine": "pocketsphinx"}
    failed = {"plan": "unknown", "engine": "default", "reason": "alignment_failed"}
    before = value("jobs_completed_total", **completed), value("jobs_failed_total", **failed)
    count_finished("COMPLETED", "unit-pro", "pocketsphinx", "other")
    count_finished("FAILED", None, None, "alignment_failed")
    count_finished("EXPIRED", "unit-pro", "pocketsphinx", "other")  # not a job's outcome
    count_finished("PROCESSING", "unit-pro", "pocketsphinx", "other")
    after = value("jobs_completed_total", **completed), value("jobs_failed_total", **failed)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


def test_only_a_submit_s_refusals_count_and_the_quota_s_by_plan() -> None:
    quota = {"plan": "unit-free", "reason": "minutes_quota_exceeded"}
    before = (
        value("quota_refusals_total", **quota),
        value("submits_refused_total", reason="minutes_quota_exceeded"),
        value("submits_refused_total", reason="unmatched_files"),
    )
    count_refusal(request(), "minutes_quota_exceeded")  # e.g. a GET of the quota: no submit
    submit = request()
    submitting(submit)
    submit.state.plan = "unit-free"
    count_refusal(submit, "minutes_quota_exceeded")
    count_refusal(submit, "unmatched_files")
    after = (
        value("quota_refusals_total", **quota),
        value("submits_refused_total", reason="minutes_quota_exceeded"),
        value("submits_refused_total", reason="unmatched_files"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


def test_a_submit_s_time_leaves_its_upload_out() -> None:
    labels = {"plan": "unit-admin"}
    before = value("job_submit_seconds_count", **labels)
    fast_before = value("job_submit_seconds_bucket", le="0.025", **labels)
    observe_submit(request(), "unit-admin")  # not a submit (an idempotent replay): nothing
    submit = request()
    submitting(submit)
    time.sleep(0.2)  # as if the upload streamed for 0.2 s
    submit.state.upload_seconds = 0.2
    observe_submit(submit, "unit-admin")
    assert value("job_submit_seconds_count", **labels) - before == 1
    assert value("job_submit_seconds_bucket", le="0.025", **labels) - fast_before == 1
