"""The orphan rule: which parts under incoming/ go, and which of them are announced."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from janitor_service.domain.orphans import (
    IncomingObject,
    KnownJobs,
    find_orphans,
    group_uploads,
    upload_of,
)

NOW = datetime(2030, 1, 1, 12, 0)
GRACE = timedelta(hours=1)
USER = uuid4()


def parts(job_id: UUID, *ages: timedelta, user_id: UUID = USER) -> list[IncomingObject]:
    """One part per age, as the gateway names them."""
    return [
        IncomingObject(f"incoming/{user_id}/{job_id}/audio_files-{i}", NOW - age)
        for i, age in enumerate(ages)
    ]


def test_an_unknown_jobs_upload_older_than_the_grace_is_abandoned() -> None:
    job = uuid4()
    orphans = find_orphans(parts(job, timedelta(hours=2)), KnownJobs(), grace=GRACE, now=NOW)
    [upload] = orphans.abandoned
    assert (upload.user_id, upload.job_id) == (USER, job)
    assert upload.keys == (f"incoming/{USER}/{job}/audio_files-0",)
    assert orphans.leftovers == []


def test_an_upload_within_the_grace_is_left_alone_even_at_the_very_edge() -> None:
    young, edge = uuid4(), uuid4()
    listed = parts(young, timedelta(minutes=5)) + parts(edge, GRACE)
    assert find_orphans(listed, KnownJobs(), grace=GRACE, now=NOW).keys == []


def test_the_newest_part_decides_for_the_whole_upload() -> None:
    """An upload still streaming: its first part is old, its last one fresh."""
    job = uuid4()
    listed = parts(job, timedelta(hours=3), timedelta(minutes=1))
    assert find_orphans(listed, KnownJobs(), grace=GRACE, now=NOW).keys == []
    later = NOW + timedelta(hours=2)
    [upload] = find_orphans(listed, KnownJobs(), grace=GRACE, now=later).abandoned
    assert len(upload.keys) == 2


def test_a_submitted_job_storage_has_not_answered_is_storages() -> None:
    job = uuid4()
    known = KnownJobs(submitted={job})
    assert find_orphans(parts(job, timedelta(days=2)), known, grace=GRACE, now=NOW).keys == []


def test_what_is_left_of_an_answered_job_goes_without_an_announcement() -> None:
    stored, rejected_first = uuid4(), uuid4()  # storage's answer may be heard of first
    listed = parts(stored, timedelta(hours=2)) + parts(rejected_first, timedelta(hours=2))
    known = KnownJobs(submitted={stored}, answered={stored, rejected_first})
    orphans = find_orphans(listed, known, grace=GRACE, now=NOW)
    assert orphans.abandoned == []
    assert {u.job_id for u in orphans.leftovers} == {stored, rejected_first}


def test_keys_of_no_uploads_shape_go_silently_once_old() -> None:
    odd = [
        IncomingObject("incoming/stray.bin", NOW - timedelta(hours=2)),
        IncomingObject(f"incoming/{USER}/not-a-uuid/audio_files-0", NOW - timedelta(hours=2)),
        IncomingObject(f"incoming/{USER}/{uuid4()}/", NOW - timedelta(hours=2)),
        IncomingObject("incoming/fresh.bin", NOW),
    ]
    orphans = find_orphans(odd, KnownJobs(), grace=GRACE, now=NOW)
    assert orphans.abandoned == []
    assert sorted(orphans.keys) == sorted(o.key for o in odd[:3])


def test_uploads_are_grouped_by_user_and_job() -> None:
    a, b, other_user = uuid4(), uuid4(), uuid4()
    listed = (
        parts(a, timedelta(hours=2), timedelta(hours=3))
        + parts(b, timedelta(hours=2))
        + parts(b, timedelta(hours=2), user_id=other_user)
    )
    groups = {(u.user_id, u.job_id): u for u in group_uploads(listed)}
    assert set(groups) == {(USER, a), (USER, b), (other_user, b)}
    assert groups[USER, a].last_modified == NOW - timedelta(hours=2)
    assert len(groups[USER, a].keys) == 2


def test_grace_zero_takes_everything_not_from_the_future() -> None:
    job = uuid4()
    listed = parts(job, timedelta(seconds=1))
    assert len(find_orphans(listed, KnownJobs(), grace=timedelta(0), now=NOW).abandoned) == 1


def test_upload_of_reads_the_gateways_key_and_nothing_else() -> None:
    job = uuid4()
    assert upload_of(f"incoming/{USER}/{job}/text_files-3") == (USER, job)
    assert upload_of(f"{USER}/corpus/{job}/x.wav") is None
    assert upload_of(f"incoming/{USER}/{job}/a/b") is None
