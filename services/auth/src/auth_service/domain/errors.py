from contracts.api_keys import ApiKeyErrorCode
from servicekit.errors import DomainError

__all__ = [
    "ApiKeyNotFound",
    "EmailAlreadyRegistered",
    "InvalidApiKey",
    "InvalidCredentials",
    "InvalidRefreshToken",
    "QuotaExceeded",
    "RefreshTokenReused",
    "TooManyApiKeys",
    "UserNotFound",
]


class EmailAlreadyRegistered(DomainError):
    code = "email_taken"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class UserNotFound(DomainError):
    code = "user_not_found"


class InvalidRefreshToken(DomainError):
    code = "invalid_refresh_token"


class RefreshTokenReused(DomainError):
    """A spent refresh token came back: someone holds a copy, so its session is ended."""

    code = "refresh_token_reused"


class QuotaExceeded(DomainError):
    """``code`` names the limit: storage_quota_exceeded, file_too_large, too_many_files..."""

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message, **details)
        self.code = code


class InvalidApiKey(DomainError):
    """Unknown, revoked, or its account is deleted: the same answer for all three."""

    code = ApiKeyErrorCode.INVALID_API_KEY


class ApiKeyNotFound(DomainError):
    code = ApiKeyErrorCode.API_KEY_NOT_FOUND


class TooManyApiKeys(DomainError):
    code = ApiKeyErrorCode.TOO_MANY_API_KEYS
