"""``python -m services.ingest``: the HTTP gateway until SIGTERM, then a graceful drain."""

from __future__ import annotations

from services.ingest.app import IngestApp
from signet.process_logs import configure_logging
from signet.runner import run_service
from signet.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log_level, json=settings.log_json)

    async def build() -> IngestApp:
        return IngestApp(settings)

    run_service(build, "ingest", event_loop=settings.event_loop)


if __name__ == "__main__":
    main()
