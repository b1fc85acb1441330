"""Registration resolves the host and judges every address it gets (a fake resolver here)."""

from __future__ import annotations

import ipaddress

import pytest

from notifier_service.domain.addresses import (
    AddressPolicy,
    InvalidUrl,
    IPAddress,
    UrlNotAllowed,
    parse_networks,
)
from notifier_service.service_layer.webhooks import Webhooks
from servicekit import UnitOfWork

ZONE = {
    "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "rebinding.example": ["93.184.215.14", "10.0.0.7"],
    "intranet.example": ["192.168.10.2"],
    "metadata.example": ["169.254.169.254"],
}


async def resolve(host: str, port: int) -> list[IPAddress]:
    if host not in ZONE:
        raise OSError(f"{host}: no such name")
    return [ipaddress.ip_address(a) for a in ZONE[host]]


PUBLIC_ONLY = AddressPolicy()


def service(policy: AddressPolicy = PUBLIC_ONLY) -> Webhooks:
    def no_database() -> UnitOfWork:
        raise AssertionError("checking a URL needs no database")

    return Webhooks(no_database, policy, resolve)


async def test_a_name_with_only_public_addresses_is_allowed() -> None:
    url = "https://public.example/hooks?team=1"
    assert await service().check_url(f"  {url} ") == url


@pytest.mark.parametrize("host", ["rebinding.example", "intranet.example", "metadata.example"])
async def test_a_name_with_any_non_public_address_is_refused(host: str) -> None:
    with pytest.raises(UrlNotAllowed):
        await service().check_url(f"https://{host}/hook")


async def test_an_unknown_name_is_refused_and_a_bad_url_is_invalid() -> None:
    with pytest.raises(UrlNotAllowed, match="could not be resolved"):
        await service().check_url("https://nowhere.example/hook")
    with pytest.raises(InvalidUrl):
        await service().check_url("gopher://public.example/")


async def test_the_allow_list_lets_an_intranet_receiver_in() -> None:
    allowed = service(AddressPolicy(parse_networks(["192.168.10.0/24"])))
    assert await allowed.check_url("http://intranet.example/h") == "http://intranet.example/h"
    with pytest.raises(UrlNotAllowed):
        await allowed.check_url("http://metadata.example/h")
