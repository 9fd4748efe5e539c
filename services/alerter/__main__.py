"""``python -m services.alerter``: read settings once, run until SIGTERM, drain, exit."""

from __future__ import annotations

import sys

from services.alerter.app import SERVICE, Alerter
from signet.errors import ConfigurationError
from signet.process_logs import configure_logging
from signet.runner import run_service
from signet.settings import AlerterSettings


def main() -> None:
    settings = AlerterSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        alerter = Alerter(settings)
    except ConfigurationError as exc:
        sys.exit(f"{SERVICE}: {exc} (set SIGNET_MASTER_KEYS)")

    async def build() -> Alerter:
        return alerter

    run_service(build, SERVICE, event_loop=settings.event_loop)


if __name__ == "__main__":
    main()
