"""The ``agentsight`` command's entry point: the collector's CLI, or the extra to install.

The commands (``serve``, ``keys``, ``users``, ``migrate``, ``export``...)
live beside the collector in ``agentsight.server._cli``, which needs the
``server`` extra; this stub is what the console script names, so that
without the extra the command says what to install instead of failing on an
import.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

__all__ = ["main"]

_NEEDS = ("aiohttp", "genai_prices", "geoip2fast", "msgspec")


def main(argv: Sequence[str] | None = None) -> int:
    missing = [name for name in _NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(
            "agentsight: the collector's commands need the server extra: "
            f"pip install 'agentsight[server]' (missing: {', '.join(missing)})"
        )
    from .server._cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
