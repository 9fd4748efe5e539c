"""The SSRF guard: Signet only connects to public addresses it checked
(docs/architecture.md#ssrf-guard).

A customer chooses the URL, so the URL must not reach Signet's own network: loopback,
private, link-local, carrier-grade NAT, multicast, reserved, unspecified and cloud
metadata addresses are refused, in IPv4, IPv6 and the IPv6 forms that embed an IPv4
address (mapped, compatible, 6to4, NAT64). Hosts written as numbers in the legacy forms
``inet_aton`` accepts (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``) are read the
way the resolver would read them.

Checking a name and then letting the HTTP client resolve it again would let DNS answer
differently the second time (rebinding). So the check lives in the resolver the HTTP
client connects through: it returns only addresses it has checked, and the client
connects to exactly those (the URL's host still drives SNI, certificate checks and Host).
IP literals never reach a resolver, so ``check_url`` checks them before the request.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass
from enum import StrEnum

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from signet.errors import DestinationRefused

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressClass(StrEnum):
    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link-local"
    CGNAT = "carrier-grade NAT"
    MULTICAST = "multicast"
    RESERVED = "reserved"
    UNSPECIFIED = "unspecified"
    METADATA = "cloud metadata"


# What `allow_private_destinations` (the dev stack, tests) unlocks. Metadata, multicast,
# reserved and unspecified addresses stay refused: no receiver lives there.
PRIVATE_CLASSES = frozenset(
    {AddressClass.LOOPBACK, AddressClass.PRIVATE, AddressClass.LINK_LOCAL, AddressClass.CGNAT}
)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(cls: AddressClass, *cidrs: str) -> list[tuple[Network, AddressClass]]:
    return [(ipaddress.ip_network(c), cls) for c in cidrs]


# Most specific first: the metadata hosts sit inside link-local and CGNAT ranges.
_V4_TABLE = [
    *_nets(AddressClass.METADATA, "169.254.169.254/32", "169.254.170.2/32", "100.100.100.200/32"),
    *_nets(AddressClass.UNSPECIFIED, "0.0.0.0/8"),
    *_nets(AddressClass.LOOPBACK, "127.0.0.0/8"),
    *_nets(AddressClass.PRIVATE, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
    *_nets(AddressClass.CGNAT, "100.64.0.0/10"),
    *_nets(AddressClass.LINK_LOCAL, "169.254.0.0/16"),
    *_nets(AddressClass.MULTICAST, "224.0.0.0/4"),
    *_nets(
        AddressClass.RESERVED,
        "240.0.0.0/4",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
    ),
]
_V6_TABLE = [
    *_nets(AddressClass.METADATA, "fd00:ec2::254/128"),
    *_nets(AddressClass.UNSPECIFIED, "::/128"),
    *_nets(AddressClass.LOOPBACK, "::1/128"),
    *_nets(AddressClass.LINK_LOCAL, "fe80::/10"),
    *_nets(AddressClass.PRIVATE, "fc00::/7", "fec0::/10"),
    *_nets(AddressClass.MULTICAST, "ff00::/8"),
    *_nets(AddressClass.RESERVED, "100::/64", "2001::/23", "2001:db8::/32", "64:ff9b:1::/48"),
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _V4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> AddressClass:
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ip if ip.scope_id is None else ipaddress.IPv6Address(ip.compressed.split("%")[0])
        inner = embedded_ipv4(ip)
        if inner is not None:
            return classify(inner)
        table = _V6_TABLE
    else:
        table = _V4_TABLE
    for network, cls in table:
        if ip in network:
            return cls
    return AddressClass.PUBLIC if ip.is_global else AddressClass.RESERVED


_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


def _part_value(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part, 16)
    if len(part) > 1 and part[0] == "0":
        return int(part, 8)
    return int(part)


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a host denotes when it is numeric in any accepted form; None for names."""
    text = host.strip().strip("[]").rstrip(".")
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    parts = text.split(".")
    if len(parts) > 4 or not all(_PART.fullmatch(p) for p in parts):
        return None
    values = [_part_value(p) for p in parts]
    *leading, last = values
    if any(v > 255 for v in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for index, v in enumerate(leading):
        value |= v << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


@dataclass(slots=True, frozen=True)
class DestinationPolicy:
    allow_insecure: bool = False  # plain http
    allow_private: bool = False  # loopback, private, link-local, CGNAT

    def check_address(self, ip: IPAddress, host: str) -> None:
        cls = classify(ip)
        if cls is AddressClass.PUBLIC or (self.allow_private and cls in PRIVATE_CLASSES):
            return
        shown = "" if host == str(ip) else f"{host} resolves to "
        raise DestinationRefused(f"destination refused: {shown}a {cls} address ({ip})")


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and returns the answer only if every address is allowed."""

    def __init__(self, policy: DestinationPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner  # the system resolver by default, made inside the event loop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        literal = parse_ip_host(host)
        if literal is not None:
            self._policy.check_address(literal, host)
            fam = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
            return [
                ResolveResult(
                    hostname=host, host=str(literal), port=port, family=fam, proto=0, flags=0
                )
            ]
        if self._inner is None:
            self._inner = ThreadedResolver()
        answers = await self._inner.resolve(host, port, family)
        # One bad answer refuses the name: a name that also points inward is not a receiver.
        for answer in answers:
            self._policy.check_address(ipaddress.ip_address(answer["host"]), host)
        return answers

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


# Remembered allowed URLs; past it the memory starts afresh (a refused URL is never kept).
MAX_CHECKED_URLS = 4096


class DestinationGuard:
    """URL policy plus the checking resolver the HTTP client must connect through."""

    def __init__(self, policy: DestinationPolicy, resolver: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.resolver = GuardedResolver(policy, resolver)
        # URLs already checked: the answer depends on the URL and the (frozen) policy only.
        self._allowed: dict[str, URL] = {}

    def check_url(self, url: str) -> URL:
        """The parsed URL, or DestinationRefused saying why Signet will not call it."""
        parsed = self._allowed.get(url)
        if parsed is None:
            parsed = self._check(url)
            if len(self._allowed) >= MAX_CHECKED_URLS:
                self._allowed.clear()
            self._allowed[url] = parsed
        return parsed

    def _check(self, url: str) -> URL:
        try:
            parsed = URL(url)
        except (ValueError, TypeError) as exc:
            raise DestinationRefused(f"destination refused: not a valid URL ({exc})") from exc
        allowed = ("https", "http") if self.policy.allow_insecure else ("https",)
        if parsed.scheme not in allowed:
            raise DestinationRefused(
                f"destination refused: {parsed.scheme or 'no'} scheme; {' or '.join(allowed)} only"
            )
        host = parsed.raw_host
        if not host:
            raise DestinationRefused("destination refused: the URL has no host")
        literal = parse_ip_host(host)
        if literal is not None:
            self.policy.check_address(literal, host)
        return parsed

    def warn_if_permissive(self) -> None:
        if self.policy.allow_private:
            logger.warning(
                "!!! SIGNET_ALLOW_PRIVATE_DESTINATIONS is on: webhooks may reach loopback and "
                "private networks (SSRF guard relaxed). Never in production. !!!"
            )
        if self.policy.allow_insecure:
            logger.warning(
                "SIGNET_ALLOW_INSECURE_DESTINATIONS is on: webhooks may go over plain http"
            )
