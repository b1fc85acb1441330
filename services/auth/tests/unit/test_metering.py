"""Minutes are paid for audio that was aligned: validate-only and unaligned files give
theirs back, once, and only to the month they were charged in."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from auth_service.domain.metering import (
    ChargeState,
    charged_seconds,
    charges_for,
    refund_of,
    unbilled_seconds,
)

JOB = uuid4()
A, B, C = uuid4(), uuid4(), uuid4()
FILES = [(A, 60.0), (B, 30.0), (C, 6.5)]


def test_storing_charges_each_file_its_seconds() -> None:
    charges = charges_for(JOB, FILES, "2026-11", validate_only=False)
    assert charged_seconds(charges) == 96.5
    assert {c.state for c in charges} == {ChargeState.CHARGED}


def test_a_validate_only_job_is_never_charged() -> None:
    charges = charges_for(JOB, FILES, "2026-11", validate_only=True)
    assert charged_seconds(charges) == 0
    assert refund_of(charges, JOB, {A, B, C}, "2026-11").seconds == 0  # nothing to give back
    assert unbilled_seconds(charges, "2026-11") == 96.5


def test_files_not_aligned_give_their_seconds_back() -> None:
    charges = charges_for(JOB, FILES, "2026-11", validate_only=False)
    refund = refund_of(charges, JOB, {B, C}, "2026-11")
    assert refund.seconds == 36.5
    assert sorted(map(str, refund.file_ids)) == sorted(map(str, [B, C]))


def test_a_charge_is_refunded_at_most_once() -> None:
    charges = charges_for(JOB, FILES, "2026-11", validate_only=False)
    refund = refund_of(charges, JOB, {B}, "2026-11")
    after = [
        replace(c, state=ChargeState.REFUNDED) if c.file_id in refund.file_ids else c
        for c in charges
    ]
    assert refund_of(after, JOB, {B}, "2026-11").seconds == 0
    assert unbilled_seconds(after, "2026-11") == 30.0


def test_last_months_charges_do_not_lower_this_months_usage() -> None:
    charges = charges_for(JOB, FILES, "2026-10", validate_only=False)
    refund = refund_of(charges, JOB, {A}, "2026-11")
    assert refund.seconds == 0
    assert refund.file_ids == [A]  # marked, so that it is never counted again
    assert unbilled_seconds(charges, "2026-11") == 0


def test_a_file_given_up_on_before_it_was_charged_is_never_charged() -> None:
    """The aligner's AlignmentDone may be settled before storage's FilesStored."""
    early = refund_of([], JOB, {B}, "2026-11")
    assert early.seconds == 0 and early.file_ids == []
    assert [(c.file_id, c.state, c.seconds) for c in early.uncharged] == [
        (B, ChargeState.REFUNDED, 0.0)
    ]
    charges = charges_for(JOB, FILES, "2026-11", validate_only=False, refunded_before=[B])
    assert charged_seconds(charges) == 66.5  # A and C only
    assert unbilled_seconds(charges, "2026-11") == 30.0
