"""Per-class boundary corrections: learnt from signed errors, applied to phone edges."""

from __future__ import annotations

import pytest

from aligner_service.domain.offsets import (
    BoundaryCorrections,
    boundary_class,
    boundary_errors,
    correct_boundaries,
    learn_corrections,
)
from aligner_service.engines.base import PhoneTiming


def _phones(*spans: tuple[str, float, float]) -> list[PhoneTiming]:
    return [PhoneTiming(p, s, e, 0) for p, s, e in spans]


def test_classes_name_the_manner_on_each_side_or_a_pause() -> None:
    assert boundary_class("AA", "T") == "vowel>stop"
    assert boundary_class(None, "S") == "pause>fricative"
    assert boundary_class("m", None) == "nasal>pause"
    assert boundary_class("AH0", "L") == "vowel>approximant"


def test_a_class_late_by_a_constant_is_learnt_shrunk_and_rare_classes_are_not() -> None:
    errors = [("vowel>stop", 12.0)] * 60 + [("nasal>vowel", -30.0)] * 5
    table = learn_corrections(errors, "test")
    assert table.shifts_ms["vowel>stop"] == pytest.approx(12.0 * 60 / 80, abs=0.05)
    assert "nasal>vowel" not in table.shifts_ms
    assert table.source == "test"


def test_corrections_move_shared_edges_and_pause_edges_keeping_phones_apart() -> None:
    phones = _phones(("AA", 0.10, 0.20), ("T", 0.20, 0.25), ("S", 0.40, 0.50))
    table = BoundaryCorrections(
        {"vowel>stop": 10.0, "stop>pause": -100.0, "pause>fricative": 5.0, "pause>vowel": -3.0}
    )
    out = correct_boundaries(phones, table)
    assert out[0].start == pytest.approx(0.097)
    assert out[0].end == pytest.approx(0.21) and out[1].start == pytest.approx(0.21)
    assert out[1].end == pytest.approx(0.22)  # a -100 ms shift stops 10 ms after its start
    assert out[2].start == pytest.approx(0.405)
    assert out[2].end == pytest.approx(0.50)  # no fricative>pause entry: unmoved
    assert correct_boundaries(phones, BoundaryCorrections()) == phones


def test_errors_are_signed_reference_minus_aligner_per_boundary() -> None:
    phones = _phones(("AA", 0.10, 0.20), ("T", 0.20, 0.25))
    errors = boundary_errors(phones, [(0, 0.11, 0.21), (1, 0.21, 0.23)])
    assert [name for name, _ in errors] == ["pause>vowel", "vowel>stop", "stop>pause"]
    assert [round(e, 3) for _, e in errors] == [10.0, 10.0, -20.0]
