"""Auth refuses to sign with a key anyone can read: committed here or published elsewhere."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from pydantic import ValidationError

from auth_service.settings import AuthSettings
from servicekit.keys import PUBLISHED_KEY_FINGERPRINTS, fingerprint

REPO = Path(__file__).resolve().parents[4]
# A PEM block as a file holds it, or as a string literal with \n escapes or split in pieces.
PEM_BLOCK = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----(.*?)-----END \1-----", re.S)
RFC8032_TEST_1 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"


def committed_private_keys(root: Path) -> list[tuple[str, bytes]]:
    """(file, PEM) of every private key block in a file git tracks under ``root``."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return []  # not a git checkout (a container image): nothing to check here
    found = []
    for name in filter(None, listed.split("\0")):
        path = root / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="ignore").replace("\\n", "\n")
        for label, body in PEM_BLOCK.findall(text):
            base64 = "\n".join(textwrap.wrap(re.sub(r"[^A-Za-z0-9+/=]", "", body), 64))
            found.append((name, f"-----BEGIN {label}-----\n{base64}\n-----END {label}-----\n"))
    return [(name, pem.encode()) for name, pem in found]


def pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(autouse=True)
def _db_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_DB_URL", "mysql+aiomysql://auth:pw@127.0.0.1/auth")


@pytest.mark.parametrize(("name", "private_pem"), committed_private_keys(REPO))
def test_settings_refuse_every_private_key_committed_to_the_repository(
    name: str, private_pem: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_JWT_PRIVATE_KEY", private_pem.decode())
    with pytest.raises(ValueError):  # ValidationError is one; so is an unreadable key
        AuthSettings()  # type: ignore[call-arg]


def test_settings_refuse_a_published_key_and_say_how_to_make_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_TEST_1))
    assert fingerprint(published.public_key()) in PUBLISHED_KEY_FINGERPRINTS
    monkeypatch.setenv("AUTH_JWT_PRIVATE_KEY", pem(published))
    with pytest.raises(ValidationError, match=r"published .*openssl genpkey -algorithm ed25519"):
        AuthSettings()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "key",
    [
        ed25519.Ed25519PrivateKey.generate(),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
    ids=["ed25519", "rsa-2048"],
)
def test_settings_accept_a_freshly_generated_key(
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_JWT_PRIVATE_KEY", pem(key))
    assert AuthSettings().signing_key_pem() == pem(key).encode()  # type: ignore[call-arg]
