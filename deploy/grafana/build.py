"""Build Signet's Grafana dashboards and write them as JSON under ``dashboards/``.

    python -m deploy.grafana.build           # (re)write the JSON files
    python -m deploy.grafana.build --check   # exit 1 if a committed file is not current

The JSON is committed (the Helm chart ships it to Grafana's sidecar, and people import it
by hand); a test runs the ``--check`` comparison so it never drifts from this code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from deploy.grafana import delivery, kafka, overview

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

BUILDERS: dict[str, Callable[[], Dashboard]] = {
    "signet-overview.json": overview.build,
    "signet-delivery.json": delivery.build,
    "signet-kafka.json": kafka.build,
}


def render(build: Callable[[], Dashboard]) -> str:
    """Stable JSON text of one dashboard: sorted keys, two-space indent, final newline."""
    encoded = JSONEncoder(sort_keys=True, indent=2).encode(build())
    # Round-trip through json so the text does not depend on the SDK's encoder quirks.
    return json.dumps(json.loads(encoded), sort_keys=True, indent=2) + "\n"


def render_all() -> dict[str, str]:
    return {name: render(build) for name, build in BUILDERS.items()}


def stale_files(directory: Path = DASHBOARD_DIR) -> list[str]:
    """Names of dashboard files that are missing or differ from what the code builds."""
    stale = []
    for name, text in render_all().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def write_all(directory: Path = DASHBOARD_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if the committed JSON is not current"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print(
                f"stale dashboards: {', '.join(stale)}; run `python -m deploy.grafana.build`",
                file=sys.stderr,
            )
            return 1
        print(f"{len(BUILDERS)} dashboards are current")
        return 0
    for path in write_all():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
