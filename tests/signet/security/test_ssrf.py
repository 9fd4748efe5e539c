"""The SSRF guard: address classes, numeric host forms, URL policy, the checking resolver."""

from __future__ import annotations

import ipaddress

import pytest

from signet.errors import DestinationRefused
from signet.security.ssrf import (
    AddressClass,
    DestinationGuard,
    DestinationPolicy,
    GuardedResolver,
    classify,
    parse_ip_host,
)
from tests.services.dispatcher.dns import ScriptedResolver

C = AddressClass


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        # IPv4
        ("127.0.0.1", C.LOOPBACK),
        ("127.255.255.254", C.LOOPBACK),
        ("10.1.2.3", C.PRIVATE),
        ("172.16.0.1", C.PRIVATE),
        ("172.31.255.255", C.PRIVATE),
        ("192.168.0.10", C.PRIVATE),
        ("100.64.0.1", C.CGNAT),
        ("100.127.255.254", C.CGNAT),
        ("169.254.1.1", C.LINK_LOCAL),
        ("169.254.169.254", C.METADATA),
        ("169.254.170.2", C.METADATA),
        ("100.100.100.200", C.METADATA),
        ("224.0.0.1", C.MULTICAST),
        ("239.255.255.250", C.MULTICAST),
        ("240.0.0.1", C.RESERVED),
        ("255.255.255.255", C.RESERVED),
        ("192.0.2.1", C.RESERVED),
        ("198.18.0.1", C.RESERVED),
        ("0.0.0.0", C.UNSPECIFIED),  # noqa: S104 - an address under test, not a bind
        ("0.1.2.3", C.UNSPECIFIED),
        ("8.8.8.8", C.PUBLIC),
        ("93.184.216.34", C.PUBLIC),
        ("172.32.0.1", C.PUBLIC),
        ("100.128.0.1", C.PUBLIC),
        # legacy numeric forms, read as inet_aton reads them
        ("2130706433", C.LOOPBACK),
        ("017700000001", C.LOOPBACK),
        ("0x7f000001", C.LOOPBACK),
        ("0177.0.0.1", C.LOOPBACK),
        ("0x7f.0.0.1", C.LOOPBACK),
        ("0x7F.1", C.LOOPBACK),
        ("127.1", C.LOOPBACK),
        ("127.0.1", C.LOOPBACK),
        ("0", C.UNSPECIFIED),
        ("0xa9fea9fe", C.METADATA),
        ("2852039166", C.METADATA),
        ("012.0.0.1", C.PRIVATE),
        ("127.0.0.1.", C.LOOPBACK),
        # IPv6
        ("::1", C.LOOPBACK),
        ("[::1]", C.LOOPBACK),
        ("::", C.UNSPECIFIED),
        ("fe80::1", C.LINK_LOCAL),
        ("fe80::1%eth0", C.LINK_LOCAL),
        ("fc00::1", C.PRIVATE),
        ("fd12:3456::1", C.PRIVATE),
        ("fd00:ec2::254", C.METADATA),
        ("ff02::1", C.MULTICAST),
        ("2001:db8::1", C.RESERVED),
        ("100::1", C.RESERVED),
        ("2606:4700:4700::1111", C.PUBLIC),
        # IPv6 forms carrying an IPv4 address
        ("::ffff:127.0.0.1", C.LOOPBACK),
        ("::ffff:7f00:1", C.LOOPBACK),
        ("::ffff:169.254.169.254", C.METADATA),
        ("::ffff:10.0.0.1", C.PRIVATE),
        ("::ffff:8.8.8.8", C.PUBLIC),
        ("::127.0.0.1", C.LOOPBACK),
        ("2002:7f00:1::", C.LOOPBACK),
        ("2002:a00:1::1", C.PRIVATE),
        ("64:ff9b::10.0.0.1", C.PRIVATE),
        ("64:ff9b::a9fe:a9fe", C.METADATA),
        ("64:ff9b::8.8.8.8", C.PUBLIC),
    ],
)
def test_classification(host: str, expected: AddressClass) -> None:
    ip = parse_ip_host(host)
    assert ip is not None, host
    assert classify(ip) is expected


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "localhost",
        "1.2.3.4.example",
        "08.1.1.1",
        "256.1.1.1",
        "1.2.3.4.5",
        "0x",
        "1..2",
        "",
        "0x1g",
    ],
)
def test_names_are_not_addresses(host: str) -> None:
    assert parse_ip_host(host) is None


def test_policies() -> None:
    strict, dev = DestinationPolicy(), DestinationPolicy(allow_private=True)
    loopback = ipaddress.ip_address("127.0.0.1")
    with pytest.raises(DestinationRefused, match=r"loopback address \(127\.0\.0\.1\)"):
        strict.check_address(loopback, "127.0.0.1")
    dev.check_address(loopback, "127.0.0.1")
    for host in ("10.0.0.1", "169.254.3.4", "100.64.1.1", "fd00::1"):
        dev.check_address(ipaddress.ip_address(host), host)
    # no receiver lives here, whatever the dev stack allows
    for host in ("169.254.169.254", "fd00:ec2::254", "224.0.0.1", "0.0.0.0", "240.0.0.1"):  # noqa: S104
        with pytest.raises(DestinationRefused):
            dev.check_address(ipaddress.ip_address(host), host)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hook", "http scheme"),
        ("ftp://example.com/hook", "ftp scheme"),
        ("example.com/hook", "no scheme"),
        ("https:///hook", "no host"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://2130706433/hook", "loopback"),
        ("https://0x7f.1:8443/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]:8443/hook", "private"),
        ("https://[fd00:ec2::254]/latest", "cloud metadata"),
        ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
        # more host spellings of inward addresses
        ("https://0177.0.0.1/hook", "loopback"),
        ("https://3232235521/hook", "private"),  # 192.168.0.1 as one decimal number
        ("https://0300.0250.0.1/hook", "private"),  # 192.168.0.1 in octal parts
        ("https://0xa9fea9fe/latest", "cloud metadata"),
        ("https://[::1]:8443/hook", "loopback"),
        ("https://[::ffff:7f00:1]/hook", "loopback"),
        ("https://[64:ff9b::a9fe:a9fe]/latest", "cloud metadata"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://example.com@127.0.0.1/hook", "loopback"),  # userinfo is not the host
        ("https://127.0.0.1.:443/hook", "loopback"),
    ],
)
def test_url_policy_refuses(url: str, why: str) -> None:
    with pytest.raises(DestinationRefused, match=why):
        DestinationGuard(DestinationPolicy()).check_url(url)


def test_url_policy_allows() -> None:
    guard = DestinationGuard(DestinationPolicy())
    assert guard.check_url("https://hooks.example.com/x?y=1").host == "hooks.example.com"
    assert guard.check_url("https://8.8.8.8/x").host == "8.8.8.8"
    insecure = DestinationGuard(DestinationPolicy(allow_insecure=True, allow_private=True))
    assert insecure.check_url("http://127.0.0.1:9000/hook").port == 9000


async def test_resolver_refuses_names_pointing_inward() -> None:
    inner = ScriptedResolver(
        {
            "public.test": [["93.184.216.34", "2606:2800:220:1::1"]],
            "mixed.test": [["93.184.216.34", "10.0.0.7"]],
            "mapped.test": [["::ffff:127.0.0.1"]],
            "metadata.test": [["169.254.169.254"]],
            "ula.test": [["2606:2800:220:1::1", "fd12::7"]],
            "cgnat.test": [["100.64.3.4"]],
            "nat64.test": [["64:ff9b::10.0.0.1"]],
        }
    )
    resolver = GuardedResolver(DestinationPolicy(), inner)
    answers = await resolver.resolve("public.test", 443)
    assert [a["host"] for a in answers] == ["93.184.216.34", "2606:2800:220:1::1"]
    with pytest.raises(DestinationRefused, match=r"mixed\.test resolves to a private address"):
        await resolver.resolve("mixed.test", 443)
    with pytest.raises(DestinationRefused, match="loopback"):
        await resolver.resolve("mapped.test", 443)
    with pytest.raises(DestinationRefused, match="cloud metadata"):
        await resolver.resolve("metadata.test", 443)
    with pytest.raises(DestinationRefused, match=r"ula\.test resolves to a private address"):
        await resolver.resolve("ula.test", 443)
    with pytest.raises(DestinationRefused, match="carrier-grade NAT"):
        await resolver.resolve("cgnat.test", 443)
    with pytest.raises(DestinationRefused, match="private"):
        await resolver.resolve("nat64.test", 443)


async def test_resolver_reads_numeric_hosts_itself() -> None:
    inner = ScriptedResolver({})
    resolver = GuardedResolver(DestinationPolicy(), inner)
    with pytest.raises(DestinationRefused, match="loopback"):
        await resolver.resolve("0x7f.1", 443)
    assert inner.lookups == []  # never asked DNS what a number means
    dev = GuardedResolver(DestinationPolicy(allow_private=True), inner)
    (answer,) = await dev.resolve("0x7f.1", 8080)
    assert answer["host"] == "127.0.0.1" and answer["port"] == 8080


def test_a_url_checked_again_gets_the_same_answer() -> None:
    guard = DestinationGuard(DestinationPolicy())
    first = guard.check_url("https://hooks.example.com/again")
    assert guard.check_url("https://hooks.example.com/again") == first
    for _ in range(2):  # a refusal is never remembered as allowed
        with pytest.raises(DestinationRefused, match="loopback"):
            guard.check_url("https://127.0.0.1/again")
