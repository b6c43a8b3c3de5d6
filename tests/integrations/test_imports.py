"""Integrations stay optional: nothing imports a framework until its module is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_importing_agentsight_and_llm_helpers_loads_no_framework() -> None:
    """import agentsight, agentsight.integrations(.llm) and _action load no web or bot framework."""
    done = python(
        "import sys, agentsight, agentsight.integrations, agentsight.integrations.llm, "
        "agentsight._action\n"
        "print(sorted(m for m in ('fastapi', 'starlette', 'aiogram', 'flask', 'openai', "
        "'anthropic') if m in sys.modules))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [("fastapi", "fastapi", "agentsight[fastapi]"), ("aiogram", "aiogram", "agentsight[aiogram]")],
)
def test_missing_framework_names_the_extra(module: str, framework: str, extra: str) -> None:
    """Without its framework, an integration raises ImportError naming the extra to install."""
    done = python(
        f"import sys; sys.modules[{framework!r}] = None\nimport agentsight.integrations.{module}"
    )
    assert done.returncode != 0
    assert "ImportError" in done.stderr and f"pip install '{extra}'" in done.stderr
