"""The SDK's public import paths (``signet.client``, ``signet.producer``, ``signet.verify``)
are the very objects of ``signet.sdk``, so code written against either keeps working."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["client", "producer", "verify"])
def test_public_path_re_exports_the_sdk(name: str) -> None:
    public = importlib.import_module(f"signet.{name}")
    sdk = importlib.import_module(f"signet.sdk.{name}")
    assert public.__all__
    for attribute in public.__all__:
        assert getattr(public, attribute) is getattr(sdk, attribute)
