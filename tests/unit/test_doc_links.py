"""Every relative link and #anchor in README.md and docs/ leads somewhere that exists."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")
# The text of a link may be wrapped over lines.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def prose(text: str) -> str:
    """`text` without its code: a link or heading shown as code is no link."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped but for
    `-` and `_`, each space a `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated one is numbered (`-1`, `-2`), as GitHub does."""
    seen: Counter[str] = Counter()
    found = set()
    for match in HEADING.finditer(FENCE.sub("", text)):
        name = slug(match.group(1))
        found.add(f"{name}-{seen[name]}" if seen[name] else name)
        seen[name] += 1
    return found


def broken(document: Path, root: Path) -> list[str]:
    """The links of `document` that lead nowhere, each with why."""
    problems = []
    for target in LINK.findall(prose(document.read_text(encoding="utf-8"))):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        aimed = (document.parent / path).resolve() if path else document
        if not aimed.exists():
            problems.append(f"{target}: no such file")
        elif root.resolve() not in (aimed, *aimed.parents):
            problems.append(f"{target}: outside the repository")
        elif (
            anchor
            and aimed.suffix == ".md"
            and anchor not in anchors(aimed.read_text(encoding="utf-8"))
        ):
            problems.append(f"{target}: no heading with that anchor")
    return problems


@pytest.mark.parametrize(
    "document", documents(CHECKOUT), ids=lambda path: str(path.relative_to(CHECKOUT))
)
def test_every_relative_link_and_anchor_resolves(document: Path) -> None:
    assert broken(document, CHECKOUT) == []


def test_the_docs_are_found() -> None:
    """An empty list would pass every check above."""
    names = {str(path.relative_to(CHECKOUT)) for path in documents(CHECKOUT)}
    assert {"README.md", "docs/index.md", "docs/reference/config.md"} <= names


def test_anchors_are_made_as_github_makes_them() -> None:
    text = (
        "# Zero-downtime restart series (`zero_downtime.py --servers`)\n"
        "## Recycling one worker (pre-fork servers)\n"
        "## Logs\n## Logs\n"
        "```\n# not a heading\n```\n"
    )
    assert anchors(text) == {
        "zero-downtime-restart-series-zero_downtimepy---servers",
        "recycling-one-worker-pre-fork-servers",
        "logs",
        "logs-1",
    }


def test_a_missing_file_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Index\n## Quick start\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "[ok](docs/index.md#quick-start) [self](#top) [gone](docs/gone.md)"
        " [no anchor](docs/index.md#quick-stop) [web](https://example.org/x)"
        " `[code](nowhere.md)`\n# Top\n",
        encoding="utf-8",
    )
    assert broken(tmp_path / "README.md", tmp_path) == [
        "docs/gone.md: no such file",
        "docs/index.md#quick-stop: no heading with that anchor",
    ]
