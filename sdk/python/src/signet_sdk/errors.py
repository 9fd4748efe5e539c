"""The root of the error tree, and the one SDK error the server's tree shares.

    SignetError            retriable=False unless a subclass says otherwise
    └── BrokerError        Kafka refused or timed out              retriable=True

Policy lives on the class: callers ask ``exc.retriable`` instead of chaining isinstance
checks. The events client's errors (:mod:`signet_sdk.client`), the verifier's
(:mod:`signet_sdk.signing.errors`) and every error the Signet services raise
(``signet.errors``) descend from :class:`SignetError`.
"""

from __future__ import annotations

from typing import ClassVar


class SignetError(Exception):
    """Root of every error Signet raises on purpose."""

    retriable: ClassVar[bool] = False


class BrokerError(SignetError):
    """Kafka refused a request or did not answer in time."""

    retriable: ClassVar[bool] = True
