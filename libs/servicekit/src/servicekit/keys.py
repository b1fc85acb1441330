"""Signing keys anyone can read: auth refuses to sign with one, and the gateway to trust
tokens verified with one.

A private key that was ever committed to this repository or printed in our docs or tests is
public: whoever read it can mint tokens for any user. Deleting it from the tree does not
unpublish it, so its fingerprint stays here for good.

A fingerprint is the SHA-256 of the key's public half as DER SubjectPublicKeyInfo, in hex.
To add a key, print its fingerprint (private or public PEM) and add the line with a comment
saying where the key was published:

    python -m servicekit.keys path/to/key.pem

A test in auth's ``tests/unit`` fails when a tracked file holds a private key this set misses.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

__all__ = ["PUBLISHED_KEY_FINGERPRINTS", "fingerprint", "is_published"]

PUBLISHED_KEY_FINGERPRINTS: frozenset[str] = frozenset(
    {
        # RFC 8032 section 7.1, TEST 1 (Ed25519): copied into many examples and tests.
        "06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9",
    }
)


def fingerprint(public_key: PublicKeyTypes) -> str:
    """SHA-256 (hex) of the key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def is_published(public_key: PublicKeyTypes) -> bool:
    return fingerprint(public_key) in PUBLISHED_KEY_FINGERPRINTS


def _public_key(pem: bytes) -> PublicKeyTypes:
    if b"PRIVATE KEY" in pem:
        return load_pem_private_key(pem, password=None).public_key()
    return load_pem_public_key(pem)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(fingerprint(_public_key(Path(name).read_bytes())), name)
