"""Where ``devstack smoke`` looks for each service's /readyz (the run itself:
tests/e2e/test_operations.py)."""

from __future__ import annotations

import pytest

from devstack.smoke import SmokeFailed, service_urls


def test_smoke_finds_the_services_beside_the_gateway_unless_told() -> None:
    urls = service_urls("http://10.0.0.5:8000/", ["auth=http://10.0.0.6:9001/"])
    assert urls["gateway"] == "http://10.0.0.5:8000"
    assert urls["auth"] == "http://10.0.0.6:9001"
    assert urls["aligner"] == "http://10.0.0.5:8003"
    assert list(service_urls("http://x:8000", gateway_only=True)) == ["gateway"]
    with pytest.raises(SmokeFailed, match="NAME=URL"):
        service_urls("http://x:8000", ["nobody=http://y"])
