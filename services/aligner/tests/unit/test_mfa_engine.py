from __future__ import annotations

from pathlib import Path

import pytest

from aligner_service.engines.base import EngineFailed, EngineUnavailable
from aligner_service.engines.mfa_engine import (
    MfaEngine,
    MfaModels,
    align_command,
    parse_mfa_textgrid,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mfa_sample.TextGrid"


def test_the_align_command_names_corpus_models_and_output() -> None:
    command = align_command("/opt/mfa/bin/mfa", "/data/c", "/data/o", MfaModels("dict", "model"))
    assert command[:2] == ["/opt/mfa/bin/mfa", "align"]
    assert command[-4:] == ["/data/c", "dict", "model", "/data/o"]
    assert {"--clean", "--single_speaker"} <= set(command)
    assert command[command.index("--output_format") + 1] == "long_textgrid"


def test_an_mfa_textgrid_maps_into_words_and_phones() -> None:
    output = parse_mfa_textgrid(SAMPLE, ["hello", "zyzzyva", "world"])
    assert [(w.start, w.end) for w in output.words] == [(0.21, 0.58), (0.58, 0.97), (0.97, 1.43)]
    assert [p.phone for p in output.phones][:4] == ["HH", "AH0", "L", "OW1"]
    assert "sil" not in [p.phone for p in output.phones]
    spn = next(p for p in output.phones if p.phone == "spn")
    assert spn.word_index == 1  # the unknown word keeps its place and its time
    assert {p.word_index for p in output.phones} == {0, 1, 2}


def test_a_textgrid_with_other_words_is_refused() -> None:
    with pytest.raises(EngineFailed, match="3 of 2 words"):
        parse_mfa_textgrid(SAMPLE, ["hello", "world"])


def test_without_mfa_or_docker_the_engine_says_how_to_get_it() -> None:
    with pytest.raises(EngineUnavailable, match="conda install"):
        MfaEngine(command="no-such-mfa-binary")
