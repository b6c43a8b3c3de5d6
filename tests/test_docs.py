"""The README and docs/: links that lead somewhere, code that compiles, one README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        ROOT / "CONTRIBUTING.md",
        ROOT / "benchmarks" / "README.md",
        ROOT / "examples" / "README.md",
        *(ROOT / "docs").glob("*.md"),
    ]
)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)}


def _links(page: Path) -> list[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return [a or b for a, b in _LINK.findall(text)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_leads_to_a_file_or_heading_that_exists(page: Path) -> None:
    """Each relative link of the page names an existing file, and its #anchor a heading."""
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z]+:", link):  # http:, https:, mailto: are not ours to check
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(link)
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_compile(page: Path) -> None:
    """Every ```python block of the page is valid Python (examples users copy)."""
    for number, (language, code) in enumerate(_FENCE.findall(page.read_text(encoding="utf-8"))):
        if language == "python":
            # Top-level await allowed: snippets show async code the way the asyncio REPL runs it.
            name = f"{page.name}, python block {number}"
            compile(code, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_the_readme_is_a_front_door() -> None:
    """The README stays short (depth lives in docs/) and shows install, a collector and
    the three ways users write a bot."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    for heading in ("Quick start", "Install", "Start a collector", "Track a plain script"):
        assert f"## {heading}" in readme
    assert "python3 dev.py demo" in readme and "python3 dev.py test" in readme


def test_the_route_table_of_security_md_is_the_security_suite_s() -> None:
    """docs/security.md's table names every route of the application, each with the
    callers the security suite lets call it ("anyone": callers without credentials too)."""
    from tests.security.test_scopes import EVERYONE, EXPECTED

    header = "| route | ingest key | read key | admin key | viewer | admin user |"
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    rows = text.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    documented: dict[tuple[str, str], frozenset[str]] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        callers = frozenset(n for n, c in zip(columns, cells[1:], strict=True) if c == "yes")
        if "anyone" in cells:
            callers = EVERYONE
        for route in re.findall(r"`([A-Z]+) (/[^`]*)`", cells[0]):
            assert route not in documented, route
            documented[route] = callers
    assert documented == EXPECTED


def test_the_code_points_to_docs_that_exist() -> None:
    """Every docs/<page>.md named in the package's code and the docs is a page that exists."""
    missing = set()
    for path in [*sorted((ROOT / "agentsight").rglob("*.py")), *PAGES]:
        for page in re.findall(r"\bdocs/[\w.-]+\.md\b", path.read_text(encoding="utf-8")):
            if not (ROOT / page).exists():
                missing.add((str(path.relative_to(ROOT)), page))
    assert not missing, missing
