from __future__ import annotations

import pytest

from aligner_service.evaluation import boundary_f1, boundary_hits, describe, edges


def test_a_boundary_is_a_hit_within_the_tolerance_and_counts_once() -> None:
    want = [0.100, 0.300, 0.500]
    # 0.115 hits 0.100; 0.121 would too, but 0.100 is taken; 0.330 misses 0.300 (30 ms).
    assert boundary_hits([0.115, 0.121, 0.330, 0.500], want) == (2, 4, 3)
    assert boundary_hits([0.080, 0.320, 0.480], want) == (3, 3, 3)
    assert boundary_hits([0.079, 0.321], want) == (0, 2, 3)


def test_f1_is_the_harmonic_mean_of_precision_and_recall() -> None:
    assert boundary_f1(3, 3, 3) == 1.0
    assert boundary_f1(2, 4, 3) == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert boundary_f1(0, 4, 3) == 0.0


def test_shared_boundaries_of_adjacent_items_count_once() -> None:
    items = [("a", 0.1, 0.25), ("b", 0.25, 0.4), ("c", 0.5, 0.6)]
    assert edges(items) == [0.1, 0.25, 0.4, 0.5, 0.6]


def test_describe_reports_every_threshold_and_the_f1() -> None:
    line = describe([0.005, 0.015, 0.022, 0.040, 0.200], 0.75)
    assert "<=10/20/25/50/100 ms  20% /  40% /  60% /  80% /  80%" in line
    assert line.endswith("F1@20ms 0.750")
    assert describe([]) == "n/a"
