"""``signet demo``: the seed scenario played on the embedded stack, narrated step by step.

A workspace "Casterly" in production, a primary webhook signed with the customer's own
HMAC secret, a secondary "audit log" webhook with its own secret, a Slack alert channel;
local receivers that verify every signature (:mod:`signet_sdk.verify`) and a local Slack
stand-in that prints what Slack would show. The seed ``order.completed`` reaches both
receivers; then the audit log starts failing and the demo shows the retry trail, the
exhausted outcome and the Slack alert.

    signet demo            # or: make demo

Modules: ``run`` starts the stack and the local servers, ``scenario`` plays the steps,
``api`` makes (and names) each API call, ``receivers`` and ``slack`` are the local
servers, ``narration`` is the terminal output.
"""

from __future__ import annotations

from signet.dev.demo.run import run_demo

__all__ = ["run_demo"]
