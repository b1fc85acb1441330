from __future__ import annotations

import csv
import io
import uuid

import srt
import webvtt

from contracts.results import AlignedPhone, AlignedWord, AlignmentQuality, AlignmentResult
from gateway_service.adapters.formats import render

WORDS = [
    ("Hello", 0.1, 0.4, 0),
    ("there.", 0.4, 0.9, 0),
    ("How", 1.5, 1.7, 1),
    ("are", 1.7, 1.8, 1),
    ("you", 1.8, 2.25, 1),
]
RESULT = AlignmentResult(
    file_id=uuid.uuid4(),
    audio_name="a.wav",
    text_name="a.txt",
    duration=3.0,
    engine="test",
    language="en",
    words=[AlignedWord(word=w, start=s, end=e, sentence=n) for w, s, e, n in WORDS],
    phones=[AlignedPhone(phone="HH", start=0.1, end=0.2, word_index=0)],
    quality=AlignmentQuality(words_total=5, words_aligned=5, aligned_share=1.0),
)


def test_csv_has_one_row_per_interval() -> None:
    rows = list(csv.reader(io.StringIO(render(RESULT, "csv", "word", "spk1/a").decode())))
    assert rows[0] == ["file", "tier", "start", "end", "label"]
    assert rows[1] == ["spk1/a", "words", "0.100", "0.400", "Hello"]
    assert rows[-1] == ["spk1/a", "phones", "0.100", "0.200", "HH"]
    assert len(rows) == 1 + 5 + 1


def test_srt_cues_per_word_or_per_sentence() -> None:
    words = list(srt.parse(render(RESULT, "srt", "word", "a").decode()))
    assert [c.content for c in words] == ["Hello", "there.", "How", "are", "you"]
    assert words[2].start.total_seconds() == 1.5
    sentences = list(srt.parse(render(RESULT, "srt", "sentence", "a").decode()))
    assert [(c.content, c.start.total_seconds(), c.end.total_seconds()) for c in sentences] == [
        ("Hello there.", 0.1, 0.9),
        ("How are you", 1.5, 2.25),
    ]


def test_vtt_parses_with_a_vtt_reader() -> None:
    captions = webvtt.from_buffer(io.StringIO(render(RESULT, "vtt", "sentence", "a").decode()))
    assert [(c.start, c.end, c.text) for c in captions.captions] == [
        ("00:00:00.100", "00:00:00.900", "Hello there."),
        ("00:00:01.500", "00:00:02.250", "How are you"),
    ]
