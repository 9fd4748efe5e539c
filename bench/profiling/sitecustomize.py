"""Profile one service of the benchmark stack with pyinstrument (``bench/profile.py``).

On ``PYTHONPATH`` of the stack's processes, this runs at every interpreter start; it
does nothing unless ``SIGNET_BENCH_PROFILE`` names the service this process runs
(``python -m services.<name>``). Then it samples the main thread (the event loop) from
start to exit and writes ``profile-<name>.txt`` and ``.html`` to
``SIGNET_BENCH_PROFILE_DIR``. No module reads the environment in Signet itself: this is
a benchmark tool, loaded only by the benchmark.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path


def _service() -> str | None:
    argv = list(getattr(sys, "orig_argv", []))
    if "-m" in argv:
        module = argv[argv.index("-m") + 1] if argv.index("-m") + 1 < len(argv) else ""
        if module.startswith("services."):
            return module.removeprefix("services.")
    return None


def _start(name: str, directory: Path) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()

    def write() -> None:
        profiler.stop()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"profile-{name}.txt").write_text(
            profiler.output_text(unicode=True, show_all=False)
        )
        (directory / f"profile-{name}.html").write_text(profiler.output_html())

    atexit.register(write)


_name = _service()
_wanted = os.environ.get("SIGNET_BENCH_PROFILE", "").split(",")
if _name is not None and _name in _wanted:
    _start(_name, Path(os.environ.get("SIGNET_BENCH_PROFILE_DIR", ".")))
