from __future__ import annotations

from pathlib import Path

from fa_client.corpus import Pair, batches, scan


def touch(root: Path, *names: str, size: int = 10) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


def test_pairs_by_stem_within_speaker_folders(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "spk1/utt1.wav",
        "spk1/utt1.txt",
        "spk2/utt1.flac",
        "spk2/utt1.lab",
        "top.mp3",
        "top.txt",
    )
    corpus = scan(tmp_path)
    assert [(p.stem, p.audio_name, p.text_name) for p in corpus.pairs] == [
        ("spk1/utt1", "spk1/utt1.wav", "spk1/utt1.txt"),
        ("spk2/utt1", "spk2/utt1.flac", "spk2/utt1.lab"),
        ("top", "top.mp3", "top.txt"),
    ]
    assert corpus.problems == 0


def test_unpaired_ambiguous_and_other_files_are_told_apart(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "a/lonely.wav",
        "a/orphan.txt",
        "b/twice.wav",
        "b/twice.ogg",
        "b/twice.txt",
        "notes.pdf",
        ".hidden/x.wav",
        "__MACOSX/a/._x.wav",
        "ok.wav",
        "ok.TXT",
    )
    corpus = scan(tmp_path)
    assert [p.stem for p in corpus.pairs] == ["ok"]
    assert corpus.audio_without_text == ["a/lonely.wav"]
    assert corpus.text_without_audio == ["a/orphan.txt"]
    assert sorted(corpus.ambiguous) == ["b/twice.ogg", "b/twice.txt", "b/twice.wav"]
    assert corpus.ignored == ["notes.pdf"]
    assert corpus.problems == 5


def test_outputs_keep_the_relative_layout(tmp_path: Path) -> None:
    pair = Pair("spk1/utt1", tmp_path / "spk1/utt1.wav", tmp_path / "spk1/utt1.txt")
    assert pair.outputs(Path("/out"), ["textgrid", "json"]) == [
        Path("/out/spk1/utt1.TextGrid"),
        Path("/out/spk1/utt1.json"),
    ]


def test_batches_respect_files_and_bytes_per_job(tmp_path: Path) -> None:
    touch(tmp_path, *(f"u{i}.wav" for i in range(7)), size=100)
    touch(tmp_path, *(f"u{i}.txt" for i in range(7)), size=10)
    pairs = scan(tmp_path).pairs
    assert [len(b) for b in batches(pairs, max_files=3, max_bytes=10_000)] == [3, 3, 1]
    assert [len(b) for b in batches(pairs, max_files=100, max_bytes=250)] == [2, 2, 2, 1]
    # A pair over the byte limit goes alone: the service says why it refuses it.
    assert [len(b) for b in batches(pairs, max_files=100, max_bytes=50)] == [1] * 7
    assert [p for b in batches(pairs, 3, 250) for p in b] == pairs
