import json
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from notifier_service.domain.addresses import AddressPolicy, parse_networks
from notifier_service.domain.backoff import RetrySchedule
from servicekit import ServiceSettings

__all__ = ["NotifierSettings"]


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFIER_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8005
    # CIDRs webhooks may reach although they are not public (private, loopback...):
    # ``NOTIFIER_ALLOWED_NETWORKS=127.0.0.0/8,::1/128`` (or a JSON list). None by default;
    # ``make dev`` allows loopback.
    allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Back-off: base, doubling up to max, for the window (then the delivery is given up).
    retry_base_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=7200.0, gt=0)
    retry_window_seconds: float = Field(default=24 * 3600.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Deliveries sent at once by one process, and at most this many to one webhook.
    concurrency: int = Field(default=16, ge=1, le=256)
    per_webhook_concurrency: int = Field(default=2, ge=1, le=64)
    poll_seconds: float = Field(default=1.0, gt=0)
    # Finished deliveries (and one job's callbacks once they have none) kept this long.
    keep_deliveries_days: float = Field(default=30.0, gt=0)
    # A rotated secret still signs (beside the new one) for this long.
    previous_secret_hours: float = Field(default=24.0, ge=0)

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # a typo fails at start, not at the first webhook
        return value

    @property
    def policy(self) -> AddressPolicy:
        return AddressPolicy(parse_networks(self.allowed_networks))

    @property
    def retries(self) -> RetrySchedule:
        return RetrySchedule(
            base_delay=timedelta(seconds=self.retry_base_seconds),
            max_delay=timedelta(seconds=self.retry_max_seconds),
            window=timedelta(seconds=self.retry_window_seconds),
        )
