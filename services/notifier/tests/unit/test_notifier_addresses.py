"""Which webhook URLs and addresses are allowed (server-side request forgery)."""

from __future__ import annotations

import ipaddress

import pytest

from notifier_service.domain.addresses import (
    AddressPolicy,
    InvalidUrl,
    UrlNotAllowed,
    parse_networks,
    parse_target,
)

REFUSED = [
    "10.0.0.1",  # private
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",  # loopback
    "::1",
    "169.254.169.254",  # link-local (cloud metadata)
    "fe80::1",
    "0.0.0.0",  # unspecified  # noqa: S104
    "::",
    "224.0.0.1",  # multicast
    "ff02::1",
    "240.0.0.1",  # reserved
    "100.64.0.1",  # shared address space (carrier NAT)
    "fc00::1",  # unique local
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:127.0.0.1",
    "192.0.2.1",  # documentation
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]
ALLOWED = [
    "93.184.215.14",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    assert not AddressPolicy().allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().allows(ipaddress.ip_address(address))


def test_the_allow_list_permits_only_its_networks() -> None:
    policy = AddressPolicy(parse_networks(["127.0.0.0/8", "::1/128"]))
    assert policy.allows(ipaddress.ip_address("127.0.0.1"))
    assert policy.allows(ipaddress.ip_address("::1"))
    assert policy.allows(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not policy.allows(ipaddress.ip_address("10.0.0.1"))
    assert not policy.allows(ipaddress.ip_address("169.254.169.254"))


def test_a_host_with_any_refused_address_is_refused() -> None:
    public, private = ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.1.2.3")
    with pytest.raises(UrlNotAllowed) as refused:
        AddressPolicy().check("example.org", [public, private])
    assert refused.value.code == "url_not_allowed"
    assert refused.value.details == {"address": "10.1.2.3"}
    assert AddressPolicy().check("example.org", [public]) == [public]
    with pytest.raises(UrlNotAllowed):
        AddressPolicy().check("nowhere.example", [])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "example.org/hook",
        "http:///path",
        "https://user:pw@example.org/hook",
        "https://example.org/hook#part",
        "https://example.org:99999/",
        "https://exa mple.org/",
        "javascript:alert(1)",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidUrl):
        parse_target(url)


def test_a_target_knows_its_host_port_and_literal_address() -> None:
    target = parse_target("https://Example.org/hooks?x=1")
    assert (target.scheme, target.host, target.port, target.literal) == (
        "https",
        "example.org",
        443,
        None,
    )
    literal = parse_target("http://[::1]:8080/h")
    assert (literal.host, literal.port, literal.literal) == (
        "::1",
        8080,
        ipaddress.ip_address("::1"),
    )
    assert parse_target("http://10.0.0.1/").literal == ipaddress.ip_address("10.0.0.1")
