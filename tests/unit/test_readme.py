"""The README and the guides stay true to the tree: the README's environment-variable table is
`streams.settings.ENVIRONMENT`, and every file, folder and anchor they link to or name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.settings import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs").rglob("*.md"))

_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:")
_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
_HEADING = re.compile(r"#{1,6}\s+(.*)")
# Inline code that is a whole path into the repository, e.g. `deploy/agencies.yaml`.
_PATH = re.compile(r"`((?:agents|streams|schemas|deploy|docs|bench|tests|\.ci)/[^`\s]*)`")


# A path in a command of a fenced block, e.g. `python3 bench/route_bench.py`.
_COMMAND_PATH = re.compile(
    r"(?<![\w./-])((?:agents|streams|schemas|deploy|docs|bench|tests|\.ci)/[\w./:-]*\w)"
)


def _fenced(path: Path) -> list[str]:
    """The lines of a Markdown file inside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            lines.append(line)
    return lines


def _prose(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(path):
        anchors.update(_ANCHOR.findall(line))
        heading = _HEADING.fullmatch(line)
        if heading:
            slug = _slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _environment_rows() -> list[tuple[str, ...]]:
    """The rows of the table under the README's `## Environment variables` heading."""
    lines = _prose(README)
    start = lines.index("## Environment variables")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rows = []
    for line in lines[start:end]:
        if not line.startswith("|"):
            continue
        cells = tuple(_unquote(cell) for cell in line.strip().strip("|").split("|"))
        rows.append(cells)
    assert rows[:2] == [("variable", "default", "meaning"), ("---", "---", "---")], rows[:2]
    return rows[2:]


def _unquote(cell: str) -> str:
    cell = cell.strip()
    return cell[1:-1] if len(cell) > 1 and cell[0] == cell[-1] == "`" else cell


def _markdown_row(name: str, default: str, meaning: str) -> str:
    return f"| `{name}` | {f'`{default}`' if default else ''} | {meaning} |"


def test_the_environment_table_is_the_settings_modules() -> None:
    expected = [tuple(entry) for entry in ENVIRONMENT]
    table = "\n".join(_markdown_row(*entry) for entry in ENVIRONMENT)
    assert _environment_rows() == expected, (
        "README.md's environment-variable table differs from streams.settings.ENVIRONMENT; "
        f"its rows should read:\n{table}"
    )


@pytest.mark.parametrize("page", [README, *GUIDES], ids=lambda page: page.name)
def test_every_link_leads_to_a_file_and_anchor_that_exist(page: Path) -> None:
    broken = []
    for line in _prose(page):
        for target in _LINK.findall(line):
            if _SCHEME.match(target):
                continue
            where, _, fragment = target.partition("#")
            linked = (page.parent / where).resolve() if where else page
            if not linked.exists():
                broken.append(f"{target}: no such file")
            elif fragment and linked.suffix == ".md" and fragment not in _anchors(linked):
                broken.append(f"{target}: no heading or anchor #{fragment} in {linked.name}")
    assert not broken, f"{page.relative_to(ROOT)} links to what is not there: {broken}"


def _exists(path: str) -> bool:
    """A file or folder (a glob such as `schemas/*.schema.json` matches one at least); for a test
    id such as `tests/unit/test_x.py::test_y`, the file defines the test."""
    where, *names = path.split("::")
    found = list(ROOT.glob(where.rstrip("/")))
    if not found or not names:
        return bool(found)
    source = found[0].read_text(encoding="utf-8")
    return all(
        re.search(rf"^\s*(async )?(def|class) {re.escape(name)}\b", source, re.M) for name in names
    )


@pytest.mark.parametrize("page", [README, *GUIDES], ids=lambda page: page.name)
def test_every_path_named_in_code_exists(page: Path) -> None:
    missing = [path for line in _prose(page) for path in _PATH.findall(line) if not _exists(path)]
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("page", [README, *GUIDES], ids=lambda page: page.name)
def test_every_path_in_a_command_exists(page: Path) -> None:
    missing = [
        path for line in _fenced(page) for path in _COMMAND_PATH.findall(line) if not _exists(path)
    ]
    assert not missing, (
        f"{page.relative_to(ROOT)}'s commands name paths that do not exist: {missing}"
    )
