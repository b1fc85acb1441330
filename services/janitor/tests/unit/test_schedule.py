from datetime import datetime, time

from janitor_service.service_layer.schedule import next_run


def test_the_next_cleanup_is_today_or_tomorrow_at_the_set_time() -> None:
    assert next_run(datetime(2026, 5, 1, 1, 0), time(2, 0)) == datetime(2026, 5, 1, 2, 0)
    assert next_run(datetime(2026, 5, 1, 2, 0), time(2, 0)) == datetime(2026, 5, 2, 2, 0)
    assert next_run(datetime(2026, 12, 31, 23, 0), time(2, 0)) == datetime(2027, 1, 1, 2, 0)
