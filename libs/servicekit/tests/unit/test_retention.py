"""Where inbox pruning cuts: the retention back from now, never under a day."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from servicekit.retention import MIN_RETENTION, prune_cutoff
from servicekit.settings import ServiceSettings

NOW = datetime(2030, 1, 15, 12, 0)


def test_rows_processed_before_the_retention_may_go() -> None:
    assert prune_cutoff(NOW, timedelta(days=14)) == datetime(2030, 1, 1, 12, 0)
    assert prune_cutoff(NOW, MIN_RETENTION) == NOW - timedelta(days=1)


def test_a_retention_within_reach_of_a_redelivery_is_refused() -> None:
    with pytest.raises(ValueError, match="redelivery"):
        prune_cutoff(NOW, timedelta(hours=23))
    with pytest.raises(ValueError):
        prune_cutoff(NOW, timedelta(0))


def test_the_setting_defaults_to_fourteen_days_and_refuses_zero() -> None:
    settings = ServiceSettings(db_url="mysql+aiomysql://u:p@h/s")  # type: ignore[arg-type]
    assert settings.inbox_retention_days == 14
    assert prune_cutoff(NOW, timedelta(days=settings.inbox_retention_days)) < NOW - MIN_RETENTION
    with pytest.raises(ValueError):
        ServiceSettings(db_url="mysql+aiomysql://u:p@h/s", inbox_retention_days=0)  # type: ignore[arg-type]
