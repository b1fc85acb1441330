"""The last quota report auth gave for each user, for a moment: the check before an upload
(may this user upload at all?) reads it instead of asking auth again on every submit.

Only a "yes" is taken from it. Auth's reservation after the upload is what decides, and a
report that would refuse is asked for afresh (the user may have upgraded a moment ago), so a
report a few seconds old can cost at most an upload that the reservation then refuses."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

from contracts.rpc import QuotaReport

__all__ = ["RecentQuotaReports"]


class RecentQuotaReports:
    def __init__(
        self,
        max_age_seconds: float,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age_seconds
        self._max_users = max_users
        self._clock = clock
        self._reports: OrderedDict[UUID, tuple[float, QuotaReport]] = OrderedDict()

    def get(self, user_id: UUID) -> QuotaReport | None:
        """The user's report if it is recent enough."""
        found = self._reports.get(user_id)
        if found is None:
            return None
        at, report = found
        if self._clock() - at > self._max_age:
            del self._reports[user_id]
            return None
        return report

    def put(self, user_id: UUID, report: QuotaReport) -> None:
        self._reports[user_id] = (self._clock(), report)
        self._reports.move_to_end(user_id)
        while len(self._reports) > self._max_users:  # the least recently told go first
            self._reports.popitem(last=False)

    def forget(self, user_id: UUID) -> None:
        self._reports.pop(user_id, None)
