"""A job's pronunciation dictionary, MFA's format."""

from __future__ import annotations

import pytest

from gateway_service.domain.dictionary import InvalidDictionary, parse_dictionary


def test_words_and_phones_are_read_as_mfa_writes_them() -> None:
    text = (
        ";;; my corpus\n"
        "Tomato  T AH0 M AA1 T OW2\n"
        "tomato(2) T AH M EY T OW\n"
        "gruffalo\t0.99 0.12 1.0 0.5 G R AH F AH L OW\n"
        "\n"
        "don\u2019t D OW N T\n"
    )
    entries = parse_dictionary(("\ufeff" + text).encode(), arpabet=True)
    assert entries == {
        "tomato": ["T", "AH", "M", "AA", "T", "OW"],  # the first pronunciation wins
        "gruffalo": ["G", "R", "AH", "F", "AH", "L", "OW"],
        "don't": ["D", "OW", "N", "T"],
    }


def test_bad_lines_are_named_and_nothing_is_taken() -> None:
    with pytest.raises(InvalidDictionary) as refused:
        parse_dictionary(b"ok OW K EY\nlonely\nbad B Q X\n", arpabet=True)
    assert refused.value.code == "invalid_dictionary"
    assert refused.value.details["lines"] == [
        {"line": 2, "error": "'lonely' has no phones"},
        {"line": 3, "error": "'bad': Q, X not ARPAbet"},
    ]


def test_other_phone_sets_pass_where_arpabet_is_not_asked() -> None:
    assert parse_dictionary("haus h aʊ s\n".encode(), arpabet=False) == {"haus": ["h", "aʊ", "s"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"\xff\xfe", "not UTF-8"), (b";;; nothing\n", "no entries"), (b"x" * (1 << 21), "larger")],
)
def test_unusable_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidDictionary, match=message):
        parse_dictionary(data, arpabet=True)
