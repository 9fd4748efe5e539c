"""The public import paths of the server package (``signet.client``, ``signet.producer``,
``signet.verify``) are the SDK's own objects (``signet_sdk.*``), so code written against
either keeps working and nothing is copied. The one exception is
``signet.producer.EventProducer``: the SDK's class, taking the services' settings."""

from __future__ import annotations

import importlib

import pytest
import signet_sdk.producer

import signet.producer


@pytest.mark.parametrize("name", ["client", "producer", "verify"])
def test_public_path_re_exports_the_sdk(name: str) -> None:
    public = importlib.import_module(f"signet.{name}")
    sdk = importlib.import_module(f"signet_sdk.{name}")
    assert public.__all__
    for attribute in public.__all__:
        if (name, attribute) == ("producer", "EventProducer"):
            continue
        assert getattr(public, attribute) is getattr(sdk, attribute), attribute


def test_the_settings_producer_is_the_sdk_producer() -> None:
    assert issubclass(signet.producer.EventProducer, signet_sdk.producer.EventProducer)
    own = set(vars(signet.producer.EventProducer)) - {"__doc__", "__module__", "__qualname__"}
    assert own == {"__init__"}, "only the constructor differs"
