"""Which URLs and addresses webhooks may go to (server-side request forgery).

A webhook URL is http(s) with a host and no credentials. Its addresses must be public:
private, loopback, link-local, unspecified, multicast, reserved and other non-global
addresses are refused unless an operator's allow-list (CIDRs) contains them. The rule is
applied to every address a host resolves to, at registration and again at delivery time
(where the connection goes only to an address that passed: DNS rebinding).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from servicekit.errors import DomainError

__all__ = [
    "AddressPolicy",
    "IPAddress",
    "IPNetwork",
    "InvalidUrl",
    "UrlNotAllowed",
    "WebhookTarget",
    "parse_networks",
    "parse_target",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidUrl(DomainError):
    code = "invalid_url"


class UrlNotAllowed(DomainError):
    code = "url_not_allowed"


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL: where to connect (host, port) and what to ask for."""

    url: str
    scheme: str
    host: str  # a name, or an address without brackets
    port: int

    @property
    def literal(self) -> IPAddress | None:
        """The host as an address, when it is one (no resolution needed)."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def parse_target(url: str) -> WebhookTarget:
    """The URL's parts, or :class:`InvalidUrl` with the reason."""
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidUrl("the URL must start with http:// or https://")
    if not parts.hostname:
        raise InvalidUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("the URL must not carry credentials (user:password@)")
    if parts.fragment:
        raise InvalidUrl("the URL must not have a #fragment")
    if any(c.isspace() for c in url.strip()):
        raise InvalidUrl("the URL must not contain spaces")
    default = 443 if parts.scheme == "https" else 80
    return WebhookTarget(url.strip(), parts.scheme, parts.hostname, port or default)


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs such as ``127.0.0.0/8`` or ``::1/128`` (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses are allowed; others only inside ``allowed`` (the allow-list)."""

    allowed: Sequence[IPNetwork] = ()

    def allows(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allowed):
            return True
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:  # ::ffff:10.0.0.1 reaches 10.0.0.1
                return self.allows(embedded)
            if address.teredo is not None:
                return False  # a tunnel to an address we cannot judge
        return address.is_global and not (
            address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            or address.is_loopback
            or address.is_link_local
            or address.is_private
        )

    def check(self, host: str, addresses: Iterable[IPAddress]) -> list[IPAddress]:
        """The addresses, if every one is allowed; else :class:`UrlNotAllowed` (a name that
        resolves to one private address among public ones is refused: it may pick it)."""
        found = list(addresses)
        if not found:
            raise UrlNotAllowed(f"{host} does not resolve to any address")
        refused = [a for a in found if not self.allows(a)]
        if refused:
            raise UrlNotAllowed(
                f"{host} resolves to a private, loopback, link-local or otherwise non-public "
                "address; webhooks go to public addresses only",
                address=str(refused[0]),
            )
        return found


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, 6to4 or NAT64 (well-known prefix)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
