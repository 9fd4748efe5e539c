"""``python -m services.portal``: read the settings once, refuse bad ones, run until SIGTERM."""

from __future__ import annotations

import sys

from services.portal.app import PortalService
from signet.errors import ConfigurationError
from signet.process_logs import configure_logging
from signet.runner import run_service
from signet.settings import PortalSettings


def main() -> None:
    settings = PortalSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        service = PortalService(settings)
    except ConfigurationError as exc:
        print(f"portal: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc

    async def build() -> PortalService:
        return service

    run_service(build, "portal", event_loop=settings.event_loop)


if __name__ == "__main__":
    main()
