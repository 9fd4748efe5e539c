"""signet.api.operations: routes declared once; the OpenAPI document derived from them."""

from __future__ import annotations

from typing import Annotated

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate
from pydantic import Field
from signet_sdk.contract.models import Answer, Body

from signet.api.operations import (
    Api,
    Reply,
    SecurityScheme,
    Webhook,
    operation,
    operation_of,
    problem,
)
from signet.api.reading import read_model
from signet.web import add_health_routes, json_response, problem_middleware

BEARER = SecurityScheme("sessionToken", "a workspace session token")


class Widget(Body):
    name: Annotated[str, Field(min_length=1, max_length=10)]


class WidgetAnswer(Answer):
    id: str
    name: str


class Query(Body):
    limit: Annotated[int, Field(ge=1, le=100, description="page size")] = 50


class Delivered(Answer):
    type: str


@operation(
    "POST",
    "/v1/widgets/{widget_id}",
    summary="Make a widget",
    body=Widget,
    query=Query,
    responses={201: Reply("made", WidgetAnswer), 400: problem("invalid body")},
    security=[BEARER],
    tags=["widgets"],
)
async def make_widget(request: web.Request) -> web.Response:
    widget = await read_model(request, Widget, 1024)
    answer = WidgetAnswer(id=request.match_info["widget_id"], name=widget.name)
    return json_response(answer.model_dump(), status=201)


def build() -> tuple[web.Application, Api]:
    api = Api("Widgets", "1.0")
    app = web.Application(middlewares=[problem_middleware])
    api.route(app, make_widget)
    api.webhook(Webhook("widget.made", "A widget was made", Delivered, {200: Reply("taken")}))
    add_health_routes(app, api=api, ready=lambda: True)
    return app, api


def test_the_document_is_valid_openapi_31_derived_from_the_models() -> None:
    _, api = build()
    doc = api.document()
    validate(doc)
    post = doc["paths"]["/v1/widgets/{widget_id}"]["post"]
    assert post["operationId"] == "make_widget"
    assert post["security"] == [{"sessionToken": []}]
    assert [p["name"] for p in post["parameters"]] == ["widget_id", "limit"]
    assert post["parameters"][1]["schema"]["maximum"] == 100
    body_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    widget = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert widget["additionalProperties"] is False
    assert widget["properties"]["name"]["maxLength"] == 10
    assert "Problem" in doc["components"]["schemas"]
    assert "FieldErrorBody" in doc["components"]["schemas"]
    assert set(doc["webhooks"]) == {"widget.made"}
    assert {"/healthz", "/readyz", "/metrics", "/openapi.json"} <= set(doc["paths"])


def test_a_route_is_declared_once() -> None:
    app, api = build()
    with pytest.raises(ValueError, match="declared twice"):
        api.declare(operation_of(make_widget))
    with pytest.raises(TypeError, match="declares no @operation"):
        api.route(app, build)


async def test_the_served_route_validates_with_the_same_model() -> None:
    app, _ = build()
    async with TestClient(TestServer(app)) as client:
        made = await client.post("/v1/widgets/w1", json={"name": "gear"})
        assert made.status == 201 and await made.json() == {"id": "w1", "name": "gear"}
        refused = await client.post("/v1/widgets/w1", json={"name": "", "size": 3})
        assert refused.status == 400
        assert refused.content_type == "application/problem+json"
        body = await refused.json()
        assert {(e["field"], e["code"]) for e in body["errors"]} == {
            ("name", "length"),
            ("size", "unknown"),
        }
        served = await (await client.get("/openapi.json")).json()
        assert "/v1/widgets/{widget_id}" in served["paths"]
