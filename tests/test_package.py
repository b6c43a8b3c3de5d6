"""The public surface: exports, import cost of dependencies, the settings table of the docs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import agentsight
from agentsight._config import SETTINGS

ROOT = Path(__file__).parents[1]


def test_all_is_sorted_and_complete() -> None:
    """__all__ lists every public name once, sorted, and each exists."""
    assert agentsight.__all__ == sorted(set(agentsight.__all__))
    for name in agentsight.__all__:
        assert hasattr(agentsight, name), name
    public = {n for n in dir(agentsight) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(agentsight.__all__)


def test_import_leaves_the_collector_and_aiohttp_unloaded() -> None:
    """`import agentsight` loads neither agentsight.server, aiohttp, anyio nor attrs (nor
    starts a thread): attrs alone took half of the import time (issue 5's import row)."""
    code = (
        "import sys, threading, agentsight;"
        "print(*(m in sys.modules for m in ('agentsight.server', 'aiohttp', 'anyio', 'attr')),"
        " threading.active_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False", "False", "1"]


def test_report_types_load_on_first_use() -> None:
    """`agentsight.SendReport` / `TrackerStats` work as names and in `from ... import`."""
    code = (
        "import agentsight; from agentsight import SendReport, TrackerStats;"
        "print(SendReport is agentsight.SendReport, SendReport().complete,"
        " 'TrackerStats' in dir(agentsight), TrackerStats.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True", "TrackerStats"]


def test_settings_table_matches_the_code() -> None:
    """Every setting in the code is in docs/settings.md's table with its variable and default."""
    page = (ROOT / "docs" / "settings.md").read_text()
    table = page.split("<!-- settings-table")[1].split("<!-- /settings-table -->")[0]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (.+?) \| (.+?) \|$", table, re.MULTILINE)
    documented = {name: (env, default, doc) for name, env, default, doc in rows}
    assert list(documented) == [s.name for s in SETTINGS]
    for setting in SETTINGS:
        env, default, doc = documented[setting.name]
        shown = "none" if setting.default is None else f"`{setting.default}`"
        assert (env, default, doc) == (setting.env, shown, setting.doc)
