from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fa_client import config


def test_the_credential_file_is_readable_by_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "conf" / "fa.json"
    monkeypatch.setenv("FA_CONFIG", str(path))
    monkeypatch.delenv("FA_URL", raising=False)
    monkeypatch.delenv("FA_API_KEY", raising=False)
    config.save(config.Config(url="http://x:1", access_token="a", refresh_token="r"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = config.load()
    assert (loaded.url, loaded.access_token, loaded.refresh_token) == ("http://x:1", "a", "r")


def test_the_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FA_CONFIG", str(tmp_path / "fa.json"))
    config.save(config.Config(url="http://x:1", access_token="a", refresh_token="r"))
    monkeypatch.setenv("FA_URL", "http://y:2")
    monkeypatch.setenv("FA_API_KEY", "fa_key")
    loaded = config.load()
    assert (loaded.url, loaded.api_key, loaded.access_token) == ("http://y:2", "fa_key", None)


def test_no_file_means_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FA_CONFIG", str(tmp_path / "none.json"))
    monkeypatch.delenv("FA_URL", raising=False)
    monkeypatch.delenv("FA_API_KEY", raising=False)
    assert config.load() == config.Config()
