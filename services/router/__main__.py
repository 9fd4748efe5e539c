"""``python -m services.router``: one router worker until SIGTERM."""

from __future__ import annotations

from signet.process_logs import configure_logging
from signet.runner import Service, run_service
from signet.settings import RouterSettings

from .app import SERVICE, RouterService


def main() -> None:
    settings = RouterSettings()
    configure_logging(settings.log_level, json=settings.log_json)

    async def build() -> Service:
        # Built inside the running loop: Faust's services bind to the loop they meet.
        return RouterService(settings)

    run_service(build, SERVICE, event_loop=settings.event_loop)


if __name__ == "__main__":
    main()
