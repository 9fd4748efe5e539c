"""Frame tickets: signed, expiring lists of the origins that may frame the embed."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.portal.embed.frames import (
    FrameTicket,
    FrameTickets,
    InvalidTicketError,
    csp_origin,
    frame_ancestors,
)
from services.portal.sessions import Role, SessionClaims
from signet.security.secrets import MasterKeyRing, generate_master_key

NOW = 1_800_000_000_000


def claims(*origins: str, expires_at: int = NOW + 60_000) -> SessionClaims:
    return SessionClaims(
        session_id="ses_1",
        workspace_id="ws_1",
        role=Role.ADMIN,
        allowed_origins=origins,
        issued_at=NOW,
        expires_at=expires_at,
    )


@pytest.fixture
def tickets() -> FrameTickets:
    return FrameTickets.from_keys(None, MasterKeyRing.parse(generate_master_key()))


def test_a_ticket_carries_the_sessions_origins_until_it_expires(tickets: FrameTickets) -> None:
    ticket = tickets.mint(claims("https://app.example.com", "http://127.0.0.1:8090"))
    verified = tickets.verify(ticket, now_ms=NOW)
    assert verified == FrameTicket(
        ("https://app.example.com", "http://127.0.0.1:8090"), NOW + 60_000, "ses_1"
    )
    assert frame_ancestors(verified) == "https://app.example.com http://127.0.0.1:8090"
    with pytest.raises(InvalidTicketError, match="expired"):
        tickets.verify(ticket, now_ms=NOW + 60_000)


def test_a_ticket_holds_no_token_and_is_not_one(tickets: FrameTickets) -> None:
    ticket = tickets.mint(claims("https://app.example.com"))
    assert ticket.startswith("fr1.") and "sess_" not in ticket


def test_no_ticket_or_no_origins_means_no_framing() -> None:
    assert frame_ancestors(None) == "'none'"
    assert frame_ancestors(FrameTicket((), NOW, "ses_1")) == "'none'"


def test_a_changed_ticket_does_not_verify(tickets: FrameTickets) -> None:
    ticket = tickets.mint(claims("https://app.example.com"))
    prefix, payload, mac = ticket.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(b'{"o":["https://evil.example"],"exp":9999999999999,"sid":"x"}')
        .decode()
        .rstrip("=")
    )
    for forged in (
        f"{prefix}.{forged_payload}.{mac}",
        f"{prefix}.{payload}.{mac[:-2]}AA",
        f"{prefix}.{payload}",
        "fr1.",
        "sess_abc.def",
    ):
        with pytest.raises(InvalidTicketError):
            tickets.verify(forged, now_ms=NOW)


def test_another_deployments_ticket_does_not_verify(tickets: FrameTickets) -> None:
    other = FrameTickets.from_keys(None, MasterKeyRing.parse(generate_master_key()))
    with pytest.raises(InvalidTicketError, match="signature"):
        tickets.verify(other.mint(claims("https://app.example.com")), now_ms=NOW)


def test_every_key_of_the_ring_verifies_and_the_first_mints() -> None:
    old, new = generate_master_key(), generate_master_key()
    before = FrameTickets.from_keys(None, MasterKeyRing.parse(old))
    after = FrameTickets.from_keys(None, MasterKeyRing.parse(f"{new},{old}"))
    ticket = before.mint(claims("https://app.example.com"))
    assert after.verify(ticket, now_ms=NOW).origins == ("https://app.example.com",)


def test_a_session_key_is_used_when_set() -> None:
    ring = MasterKeyRing.parse(generate_master_key())
    with_key = FrameTickets.from_keys("s" * 40, ring)
    without = FrameTickets.from_keys(None, ring)
    ticket = with_key.mint(claims("https://app.example.com"))
    assert with_key.verify(ticket, now_ms=NOW).origins == ("https://app.example.com",)
    with pytest.raises(InvalidTicketError):
        without.verify(ticket, now_ms=NOW)


@pytest.mark.parametrize(
    "value",
    [
        "https://app.example.com; script-src *",
        "https://app.example.com https://evil.example",
        "https://App.Example.com",
        "https://app.example.com/",
        "javascript:alert(1)",
        "'self'",
        "*",
        "https://*.example.com",
    ],
)
def test_only_plain_origins_reach_the_header(value: str) -> None:
    assert csp_origin(value) is None


@given(st.text(max_size=60))
def test_whatever_an_origin_says_the_header_gets_no_separator(value: str) -> None:
    checked = csp_origin(value)
    if checked is not None:
        assert not any(c in checked for c in " ;,'\"\r\n\t*")
