from __future__ import annotations

from pathlib import Path
from typing import Self

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit import ServiceSettings
from servicekit.keys import is_published

__all__ = ["AuthSettings"]

MIN_RSA_BITS = 2048
GENERATE_KEY = "openssl genpkey -algorithm ed25519 -out jwt.pem (or devstack keys --keys-dir DIR)"


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8001
    jwt_private_key: SecretStr | None = Field(default=None, description="PEM, Ed25519 or RSA")
    jwt_private_key_file: Path | None = None
    jwt_key_id: str = Field(default="k1", min_length=1, max_length=64)
    jwt_issuer: str = "alignment-auth"
    jwt_audience: str = "alignment-api"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _signing_key_usable(self) -> Self:
        self.signing_key_pem()  # refuse to start with a missing, unreadable or weak key
        return self

    def signing_key_pem(self) -> bytes:
        if self.jwt_private_key is not None:
            pem = self.jwt_private_key.get_secret_value().encode()
        elif self.jwt_private_key_file is not None:
            pem = self.jwt_private_key_file.read_bytes()
        else:
            raise ValueError("AUTH_JWT_PRIVATE_KEY or AUTH_JWT_PRIVATE_KEY_FILE must be set")
        key = load_pem_private_key(pem, password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < MIN_RSA_BITS:
                raise ValueError(f"the RSA signing key must have at least {MIN_RSA_BITS} bits")
        elif not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("the signing key must be Ed25519 or RSA")
        if is_published(key.public_key()):
            raise ValueError(
                "this signing key is published (in tests or docs); generate your own with "
                f"{GENERATE_KEY}"
            )
        return pem
