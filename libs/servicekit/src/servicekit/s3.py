"""Object storage client (any S3 server: SeaweedFS locally, MinIO in compose)."""

from __future__ import annotations

from miniopy_async.api import Minio

from servicekit.settings import S3Settings

__all__ = ["make_object_store"]


def make_object_store(settings: S3Settings) -> Minio:
    return Minio(
        settings.endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key.get_secret_value(),
        secure=settings.secure,
        region=settings.region,
    )
