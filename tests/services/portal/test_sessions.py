"""Session tokens: mint and verify, expiry, tampering, forgery, garbage, roles, key rings."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.portal.errors import SessionError
from services.portal.sessions import Role, SessionSigner, normalize_origin
from signet.errors import ConfigurationError
from signet.security.secrets import MasterKeyRing, generate_master_key

NOW = 1_800_000_000_000
RING = MasterKeyRing.parse(generate_master_key())
SIGNER = SessionSigner.from_keys(None, RING)


def mint(role: Role = Role.ADMIN, ttl: int = 600, signer: SessionSigner = SIGNER) -> str:
    token, _ = signer.mint(
        "ws_a", role, ttl_seconds=ttl, allowed_origins=("https://app.example.com",), now_ms=NOW
    )
    return token


def test_a_minted_token_verifies_to_its_claims() -> None:
    token, minted = SIGNER.mint(
        "ws_a", Role.VIEWER, ttl_seconds=600, allowed_origins=("https://a.example",), now_ms=NOW
    )
    claims = SIGNER.verify(token, now_ms=NOW + 1000)
    assert claims == minted
    assert claims.workspace_id == "ws_a"
    assert claims.role is Role.VIEWER and not claims.can_write
    assert claims.allowed_origins == ("https://a.example",)
    assert claims.expires_at == NOW + 600_000
    assert token.startswith("sess_")


def test_roles_decide_writes() -> None:
    assert SIGNER.verify(mint(Role.ADMIN), now_ms=NOW).can_write
    assert not SIGNER.verify(mint(Role.VIEWER), now_ms=NOW).can_write


def test_expiry_is_exact() -> None:
    token = mint(ttl=60)
    assert SIGNER.verify(token, now_ms=NOW + 59_999).workspace_id == "ws_a"
    with pytest.raises(SessionError, match="expired"):
        SIGNER.verify(token, now_ms=NOW + 60_000)


def _reencode(token: str, **changes: object) -> str:
    """The token with its claims changed but its old MAC kept: what an attacker can do."""
    signed, _, mac = token.rpartition(".")
    payload = signed.removeprefix("sess_")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"sess_{forged}.{mac}"


@pytest.mark.parametrize(
    "changes",
    [{"ws": "ws_other"}, {"r": "admin"}, {"exp": NOW + 10**9}, {"o": ["https://evil.example"]}],
)
def test_changed_claims_do_not_verify(changes: dict[str, object]) -> None:
    token = mint(Role.VIEWER)
    with pytest.raises(SessionError, match="does not verify"):
        SIGNER.verify(_reencode(token, **changes), now_ms=NOW)


def test_every_single_character_change_is_refused() -> None:
    token = mint()
    for index in range(len("sess_"), len(token)):
        if token[index] == ".":
            continue
        # Neighbours in the alphabet differ only in the low bits: the MAC's last
        # character carries unused bits, and a non-canonical spelling must not verify.
        for other in ("A", "B", "_"):
            if other != token[index]:
                with pytest.raises(SessionError):
                    SIGNER.verify(token[:index] + other + token[index + 1 :], now_ms=NOW)


def test_a_non_canonical_mac_spelling_is_refused() -> None:
    token = mint()
    signed, _, mac = token.rpartition(".")
    raw = base64.urlsafe_b64decode(mac + "=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 32 bytes = 43 characters; the last one holds 4 bits of MAC and 2 unused bits.
    last = alphabet.index(mac[-1])
    sibling = mac[:-1] + alphabet[last ^ 1]
    assert base64.urlsafe_b64decode(sibling + "=") == raw
    with pytest.raises(SessionError, match="garbled"):
        SIGNER.verify(f"{signed}.{sibling}", now_ms=NOW)


def test_a_token_from_another_key_ring_is_forged() -> None:
    other = SessionSigner.from_keys(None, MasterKeyRing.parse(generate_master_key()))
    with pytest.raises(SessionError, match="does not verify"):
        SIGNER.verify(mint(signer=other), now_ms=NOW)


def test_tokens_survive_a_master_key_rotation() -> None:
    old, new = generate_master_key(), generate_master_key()
    before = SessionSigner.from_keys(None, MasterKeyRing.parse(old))
    after = SessionSigner.from_keys(None, MasterKeyRing.parse(f"{new},{old}"))
    token = mint(signer=before)
    assert after.verify(token, now_ms=NOW).workspace_id == "ws_a"
    # ...and the rotated signer mints with the new primary, which the old one cannot check.
    with pytest.raises(SessionError):
        before.verify(mint(signer=after), now_ms=NOW)


def test_an_explicit_session_key_replaces_the_derived_one() -> None:
    explicit = SessionSigner.from_keys("k" * 40, RING)
    token = mint(signer=explicit)
    assert explicit.verify(token, now_ms=NOW).workspace_id == "ws_a"
    with pytest.raises(SessionError):
        SIGNER.verify(token, now_ms=NOW)
    with pytest.raises(ConfigurationError, match="at least"):
        SessionSigner.from_keys("short", RING)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "sess_",
        "sess_.",
        "sess_abc",
        "sess_abc.def",
        "sess_@@@.###",
        "pk_live_abcdef",
        "sess_" + "A" * 5000,
        "sess_e30.AAAA",  # "{}" with a short MAC
    ],
)
def test_garbled_tokens_are_refused(garbage: str) -> None:
    with pytest.raises(SessionError):
        SIGNER.verify(garbage, now_ms=NOW)


@given(st.text(max_size=300))
def test_no_text_crashes_verification(text: str) -> None:
    with pytest.raises(SessionError):
        SIGNER.verify(text, now_ms=NOW)


def test_a_validly_signed_but_malformed_payload_is_refused() -> None:
    """Defence in depth: the same key misused to sign something that is not our claims."""
    key = b"k" * 40
    signer = SessionSigner([key])
    for payload in (b"[]", b'{"v":1}', b'{"v":2,"ws":"x"}', b"not json"):
        signed = "sess_" + base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        mac = hmac.new(key, signed.encode(), hashlib.sha256).digest()
        token = f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        with pytest.raises(SessionError):
            signer.verify(token, now_ms=NOW)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("https://App.Example.com:443/", "https://app.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://app.example.com/path", None),
        ("https://app.example.com?x=1", None),
        ("https://user@app.example.com", None),
        ("ftp://app.example.com", None),
        ("app.example.com", None),
        ("https://", None),
        ("https://a.com:99999", None),
    ],
)
def test_origins_are_normalized_or_refused(raw: str, expected: str | None) -> None:
    assert normalize_origin(raw) == expected
