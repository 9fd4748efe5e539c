"""The operator API on a real broker with the real router: workspaces, keys, sessions."""

from __future__ import annotations

import hashlib

import pytest
from signet_sdk.ids import now_ms

from services.portal.sessions import Role, SessionSigner
from signet.records import codec
from tests.services.portal.conftest import Answer, RunningPortal

pytestmark = pytest.mark.timeout(180)


def assert_problem(answer: Answer, status: int) -> None:
    assert answer.status == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json["status"] == status and answer.json["title"]


# -- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/workspaces"),
        ("GET", "/v1/workspaces"),
        ("GET", "/v1/workspaces/ws_x"),
        ("POST", "/v1/workspaces/ws_x/publishable-keys"),
        ("DELETE", "/v1/workspaces/ws_x/publishable-keys/key_x"),
        ("POST", "/v1/sessions"),
    ],
)
async def test_operator_routes_refuse_missing_or_wrong_keys(
    portal: RunningPortal, method: str, path: str
) -> None:
    client = portal.client
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-the-key"},
        {"Authorization": f"Basic {client.operator_key}"},
        {"Authorization": f"Bearer {client.operator_key}x"},
    ):
        answer = await client.call(method, path, headers=headers, body={})
        assert_problem(answer, 401)
        assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_a_session_token_is_not_an_operator_key(portal: RunningPortal) -> None:
    workspace = await portal.client.new_workspace()
    token = await portal.client.session(workspace["id"])
    assert_problem(await portal.client.call("GET", "/v1/workspaces", bearer=token), 401)


# -- workspaces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "prefix"),
    [("production", "pk_live_"), ("staging", "pk_test_"), ("development", "pk_test_")],
)
async def test_a_created_workspace_is_readable_at_once(
    portal: RunningPortal, environment: str, prefix: str
) -> None:
    client = portal.client
    created = await client.operator(
        "POST", "/v1/workspaces", {"name": "  Casterly Rock ", "environment": environment}
    )
    assert created.status == 201, created.text
    body = created.json
    workspace_id, plain = body["id"], body["publishable_key"]
    assert workspace_id.startswith("ws_") and plain.startswith(prefix)
    assert created.headers["Location"] == f"/v1/workspaces/{workspace_id}"
    assert body["name"] == "Casterly Rock" and body["environment"] == environment
    [key] = body["publishable_keys"]
    assert key["hint"] == f"{prefix}…{plain[-4:]}" and key["revoked_at"] is None
    assert body["created_at"].endswith("Z") and body["version"] == 1

    # Read-your-writes: the very next read sees it, from the config topic the router wrote.
    fetched = await client.operator("GET", f"/v1/workspaces/{workspace_id}")
    assert fetched.status == 200
    assert fetched.json == {k: v for k, v in body.items() if k != "publishable_key"}
    snapshot = portal.service.view.workspace(workspace_id)
    assert snapshot is not None and snapshot.name == "Casterly Rock"
    # Only the hash is stored; the plain key is nowhere in the snapshot's bytes.
    assert snapshot.publishable_keys[0].sha256 == hashlib.sha256(plain.encode()).hexdigest()
    assert plain.encode() not in codec.encode(snapshot)
    assert plain[len(prefix) :].encode() not in codec.encode(snapshot)
    # ... and it is never shown again.
    listed = await client.operator("GET", "/v1/workspaces?limit=500")
    assert workspace_id in {w["id"] for w in listed.json["data"]}
    assert plain not in listed.text and plain not in fetched.text


async def test_the_workspace_list_pages_in_creation_order(portal: RunningPortal) -> None:
    client = portal.client
    ids = [(await client.new_workspace())["id"] for _ in range(3)]
    first = await client.operator("GET", "/v1/workspaces?limit=1")
    assert first.status == 200 and first.json["has_more"]
    seen: list[str] = []
    cursor = ids[0]
    page = await client.operator("GET", f"/v1/workspaces?limit=1&starting_after={cursor}")
    while page.json["data"]:
        seen.append(page.json["data"][0]["id"])
        cursor = seen[-1]
        page = await client.operator("GET", f"/v1/workspaces?limit=1&starting_after={cursor}")
    assert seen[:2] == ids[1:]
    assert not page.json["has_more"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"environment": "production"}, "name"),
        ({"name": "", "environment": "production"}, "name"),
        ({"name": "x" * 101, "environment": "production"}, "name"),
        ({"name": "A"}, "environment"),
        ({"name": "A", "environment": "prod"}, "environment"),
        ({"name": "A", "environment": "production", "owner": "me"}, "owner"),
        ({"name": ["A"], "environment": "production"}, "name"),
        ([], "body"),
        ("production", "body"),
    ],
)
async def test_bad_workspace_bodies_name_the_field(
    portal: RunningPortal, body: object, field: str
) -> None:
    before = len(portal.service.view.workspaces())
    answer = await portal.client.operator("POST", "/v1/workspaces", body)
    assert_problem(answer, 400)
    assert field in answer.field_errors()
    assert len(portal.service.view.workspaces()) == before  # nothing left behind


async def test_a_refusal_names_every_field_with_a_code(portal: RunningPortal) -> None:
    answer = await portal.client.operator(
        "POST", "/v1/workspaces", {"name": "", "environment": "prod", "owner": "me"}
    )
    assert_problem(answer, 400)
    assert answer.field_codes() == {"name": "length", "environment": "choice", "owner": "unknown"}
    assert answer.json["detail"] == "invalid field(s): name, environment, owner"


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b"name=A", "application/x-www-form-urlencoded", 415),
        (b'{"name":"' + b"A" * 70_000 + b'"}', "application/json", 413),
    ],
)
async def test_unreadable_bodies_are_refused(
    portal: RunningPortal, raw: bytes, content_type: str, status: int
) -> None:
    client = portal.client
    answer = await client.call(
        "POST",
        "/v1/workspaces",
        bearer=client.operator_key,
        raw=raw,
        headers={"Content-Type": content_type},
    )
    assert_problem(answer, status)


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "sort=name"])
async def test_bad_list_queries_name_the_parameter(portal: RunningPortal, query: str) -> None:
    answer = await portal.client.operator("GET", f"/v1/workspaces?{query}")
    assert_problem(answer, 400)
    assert any(f.startswith("query.") for f in answer.field_errors())


async def test_an_unknown_workspace_is_404(portal: RunningPortal) -> None:
    client = portal.client
    assert_problem(await client.operator("GET", "/v1/workspaces/ws_nope"), 404)
    assert_problem(await client.operator("POST", "/v1/workspaces/ws_nope/publishable-keys"), 404)
    assert_problem(
        await client.operator("DELETE", "/v1/workspaces/ws_nope/publishable-keys/key_x"), 404
    )


# -- publishable keys --------------------------------------------------------------------


async def test_keys_are_issued_and_revoked(portal: RunningPortal) -> None:
    client = portal.client
    workspace = await client.new_workspace("staging")
    workspace_id, first_plain = workspace["id"], workspace["publishable_key"]
    first_id = workspace["publishable_keys"][0]["id"]

    issued = await client.operator("POST", f"/v1/workspaces/{workspace_id}/publishable-keys")
    assert issued.status == 201, issued.text
    second_plain, second_id = issued.json["publishable_key"], issued.json["id"]
    assert second_plain.startswith("pk_test_") and second_plain != first_plain
    assert issued.json["hint"] == f"pk_test_…{second_plain[-4:]}"

    listed = (await client.operator("GET", f"/v1/workspaces/{workspace_id}")).json
    assert [k["id"] for k in listed["publishable_keys"]] == [first_id, second_id]
    match = portal.service.view.key_by_hash(hashlib.sha256(second_plain.encode()).hexdigest())
    assert match is not None and match.workspace_id == workspace_id

    revoked = await client.operator(
        "DELETE", f"/v1/workspaces/{workspace_id}/publishable-keys/{first_id}"
    )
    assert revoked.status == 204, revoked.text
    after = (await client.operator("GET", f"/v1/workspaces/{workspace_id}")).json
    states = {k["id"]: k["revoked_at"] for k in after["publishable_keys"]}
    assert states[first_id] is not None and states[second_id] is None
    revoked_at = states[first_id]

    # Revoking again is done already: 204, and the first revocation time stays.
    again = await client.operator(
        "DELETE", f"/v1/workspaces/{workspace_id}/publishable-keys/{first_id}"
    )
    assert again.status == 204
    final = (await client.operator("GET", f"/v1/workspaces/{workspace_id}")).json
    assert {k["id"]: k["revoked_at"] for k in final["publishable_keys"]}[first_id] == revoked_at
    assert final["version"] == after["version"]  # no command was sent
    assert_problem(
        await client.operator(
            "DELETE", f"/v1/workspaces/{workspace_id}/publishable-keys/key_unknown"
        ),
        404,
    )


# -- sessions ----------------------------------------------------------------------------


async def test_a_session_is_minted_for_one_workspace(portal: RunningPortal) -> None:
    client = portal.client
    workspace = await client.new_workspace()
    answer = await client.operator(
        "POST",
        "/v1/sessions",
        {
            "workspace_id": workspace["id"],
            "role": "viewer",
            "ttl_seconds": 600,
            "allowed_origins": ["https://App.Example.com/", "https://app.example.com"],
        },
    )
    assert answer.status == 201, answer.text
    body = answer.json
    assert body["embed_url"] == "https://portal.example.com/embed"
    assert body["role"] == "viewer" and body["workspace_id"] == workspace["id"]
    assert body["allowed_origins"] == ["https://app.example.com"]
    assert body["token"].startswith("sess_") and body["expires_at"].endswith("Z")
    mine = await client.workspace(body["token"], "GET", "/v1/workspace")
    assert mine.status == 200, mine.text
    assert mine.json["id"] == workspace["id"] and mine.json["session"]["role"] == "viewer"
    assert "publishable_keys" not in mine.json


async def test_a_session_ttl_is_capped(portal: RunningPortal) -> None:
    workspace = await portal.client.new_workspace()
    answer = await portal.client.operator(
        "POST",
        "/v1/sessions",
        {"workspace_id": workspace["id"], "role": "admin", "ttl_seconds": 10 * 24 * 3600},
    )
    assert answer.status == 201
    token = answer.json["token"]
    signer = SessionSigner.from_keys(None, portal.ring)
    claims = signer.verify(token, now_ms=now_ms())
    assert claims.expires_at - claims.issued_at == portal.settings.session_max_ttl_seconds * 1000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "admin"}, "workspace_id"),
        ({"workspace_id": "WS", "role": "owner"}, "role"),
        ({"workspace_id": "WS"}, "role"),
        ({"workspace_id": "WS", "role": "admin", "ttl_seconds": 0}, "ttl_seconds"),
        ({"workspace_id": "WS", "role": "admin", "ttl_seconds": "60"}, "ttl_seconds"),
        ({"workspace_id": "WS", "role": "admin", "allowed_origins": "*"}, "allowed_origins"),
        (
            {"workspace_id": "WS", "role": "admin", "allowed_origins": ["https://a.com/x"]},
            "allowed_origins[0]",
        ),
        ({"workspace_id": "WS", "role": "admin", "scopes": []}, "scopes"),
    ],
)
async def test_bad_session_requests_name_the_field(
    portal: RunningPortal, body: dict[str, object], field: str
) -> None:
    workspace = await portal.client.new_workspace()
    filled = {k: workspace["id"] if v == "WS" else v for k, v in body.items()}
    answer = await portal.client.operator("POST", "/v1/sessions", filled)
    assert_problem(answer, 400)
    assert field in answer.field_errors()


async def test_a_session_for_an_unknown_workspace_is_404(portal: RunningPortal) -> None:
    answer = await portal.client.operator(
        "POST", "/v1/sessions", {"workspace_id": "ws_nope", "role": "admin"}
    )
    assert_problem(answer, 404)
    assert "workspace_id" in answer.field_errors()


async def test_expired_forged_and_garbled_tokens_are_401(portal: RunningPortal) -> None:
    client = portal.client
    workspace = await client.new_workspace()
    signer = SessionSigner.from_keys(None, portal.ring)
    expired, _ = signer.mint(
        workspace["id"],
        Role.ADMIN,
        ttl_seconds=60,
        allowed_origins=(),
        now_ms=now_ms() - 3_600_000,
    )
    valid = await client.session(workspace["id"])
    forged = valid[:-3] + ("AAA" if not valid.endswith("AAA") else "BBB")
    for token, words in (
        (expired, "expired"),
        (forged, "token"),
        ("sess_garbage", "garbled"),
        (client.operator_key, "not a session token"),
    ):
        answer = await client.workspace(token, "GET", "/v1/workspace")
        assert_problem(answer, 401)
        assert words in answer.json["detail"]
    assert (await client.workspace(valid, "GET", "/v1/workspace")).status == 200
