"""Python SDK of the forced-alignment service, and the ``fa`` command line."""

from fa_client.client import ApiError, Client, Credentials, UploadFile
from fa_client.corpus import Corpus, Pair, scan
from fa_client.models import FileOut, Job, Quota, TokenPair, ValidationReport

__all__ = [
    "ApiError",
    "Client",
    "Corpus",
    "Credentials",
    "FileOut",
    "Job",
    "Pair",
    "Quota",
    "TokenPair",
    "UploadFile",
    "ValidationReport",
    "scan",
]
