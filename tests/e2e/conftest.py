"""Fixtures of the end-to-end tests (the stack itself comes from devstack.testing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from devstack import Stack


@pytest.fixture
def paused_aligner(stack: Stack) -> Iterator[Callable[[int], None]]:
    """Stops the aligner; the test calls the result to start it with a promotion delay
    (seconds). Afterwards the aligner runs again with the stack's own settings."""
    stack.stop_service("aligner")
    extra = stack.config.extra_env.setdefault("aligner", {})

    def start(promote_after_seconds: int = 300) -> None:
        extra["ALIGNER_PROMOTE_AFTER_SECONDS"] = str(promote_after_seconds)
        stack.start_service("aligner")
        stack.wait_ready(("aligner",))

    try:
        yield start
    finally:
        stack.stop_service("aligner")
        extra.pop("ALIGNER_PROMOTE_AFTER_SECONDS", None)
        stack.start_service("aligner")
        stack.wait_ready(("aligner",))
