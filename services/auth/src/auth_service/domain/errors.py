from servicekit.errors import DomainError

__all__ = ["EmailAlreadyRegistered", "InvalidCredentials", "UserNotFound"]


class EmailAlreadyRegistered(DomainError):
    code = "email_taken"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class UserNotFound(DomainError):
    code = "user_not_found"
