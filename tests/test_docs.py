"""The README and the pages under docs/: every relative link resolves, and user pages name no
path of the project's own data folders (``../shared``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0]
        if not path or re.match(r"[a-z]+:", path):
            continue
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


@pytest.mark.parametrize("page", [p for p in PAGES if p.name != "decoder-training.md"], ids=lambda p: p.name)
def test_user_pages_name_no_data_folder(page: Path) -> None:
    assert "../shared" not in page.read_text(encoding="utf-8"), f"{page.name} names ../shared"
