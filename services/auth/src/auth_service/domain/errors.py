from servicekit.errors import DomainError

__all__ = [
    "EmailAlreadyRegistered",
    "InvalidCredentials",
    "InvalidRefreshToken",
    "QuotaExceeded",
    "RefreshTokenReused",
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
