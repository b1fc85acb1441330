from __future__ import annotations

from uuid import uuid4

from contracts.rpc import PlanLimits, QuotaReport
from gateway_service.service_layer.recent_quotas import RecentQuotaReports


def report(minutes_used: float) -> QuotaReport:
    return QuotaReport(
        limits=PlanLimits(
            subscription="basic",
            storage_bytes=2**30,
            audio_minutes_per_month=100,
            max_file_bytes=2**26,
            max_files_per_job=10,
            max_concurrent_jobs=5,
            retention_days=3,
            queue_priority=1,
        ),
        storage_bytes_used=0,
        storage_bytes_reserved=0,
        audio_minutes_used=minutes_used,
        month="2026-11",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_report_is_kept_for_its_age_and_no_longer() -> None:
    clock, user = Clock(), uuid4()
    recent = RecentQuotaReports(max_age_seconds=5, clock=clock)
    assert recent.get(user) is None
    recent.put(user, report(1))
    clock.now += 5
    found = recent.get(user)
    assert found is not None and found.audio_minutes_used == 1
    clock.now += 0.01
    assert recent.get(user) is None


def test_the_newest_report_wins_and_each_user_has_their_own() -> None:
    clock, alice, bob = Clock(), uuid4(), uuid4()
    recent = RecentQuotaReports(max_age_seconds=5, clock=clock)
    recent.put(alice, report(1))
    recent.put(alice, report(7))
    recent.put(bob, report(3))
    assert [recent.get(u).audio_minutes_used for u in (alice, bob)] == [7, 3]  # type: ignore[union-attr]
    recent.forget(alice)
    assert recent.get(alice) is None


def test_the_least_recently_told_user_goes_first_when_full() -> None:
    users = [uuid4() for _ in range(4)]
    recent = RecentQuotaReports(max_age_seconds=5, max_users=3, clock=Clock())
    for user in users[:3]:
        recent.put(user, report(0))
    recent.put(users[0], report(2))  # told again: now the most recent
    recent.put(users[3], report(0))
    assert recent.get(users[1]) is None
    assert all(recent.get(u) is not None for u in (users[0], users[2], users[3]))


def test_an_age_of_zero_keeps_nothing() -> None:
    clock, user = Clock(), uuid4()
    recent = RecentQuotaReports(max_age_seconds=0, clock=clock)
    recent.put(user, report(0))
    clock.now += 0.001
    assert recent.get(user) is None
