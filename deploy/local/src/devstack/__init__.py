"""The platform as local processes: secrets, MySQL schemas and users, an S3 server
(SeaweedFS from PyPI), the six services, and their orderly stop."""

from devstack.config import SERVICES, StackConfig
from devstack.stack import Stack

__all__ = ["SERVICES", "Stack", "StackConfig"]
