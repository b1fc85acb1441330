"""Where ``fa login`` keeps the server and the credential: a JSON file only its owner can
read (``$FA_CONFIG``, else ``$XDG_CONFIG_HOME/fa/config.json``, else ``~/.config/...``).
``FA_URL`` and ``FA_API_KEY`` override what it holds."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Config", "config_path", "load", "save"]

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass
class Config:
    url: str = DEFAULT_URL
    email: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    api_key: str | None = None


def config_path() -> Path:
    if os.environ.get("FA_CONFIG"):
        return Path(os.environ["FA_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fa" / "config.json"


def load() -> Config:
    path = config_path()
    stored = json.loads(path.read_text()) if path.exists() else {}
    config = Config(**{k: v for k, v in stored.items() if k in Config.__dataclass_fields__})
    if os.environ.get("FA_URL"):
        config.url = os.environ["FA_URL"]
    if os.environ.get("FA_API_KEY"):
        config.api_key = os.environ["FA_API_KEY"]
        config.access_token = config.refresh_token = None
    return config


def save(config: Config) -> Path:
    """Written whole to a new file made readable by its owner alone, then moved in place,
    so that the credential is never readable by others, not even for a moment."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(asdict(config), out, indent=1)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path
