"""The package's layers: each package imports only those below it (and itself), so there is no
import circle and a change lands in an obvious place. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "adain"

#: Bottom to top. A module may import from its own package and from any package earlier in this list.
LAYERS = [
    "_version",
    "errors",
    "_checks",
    "_files",
    "ops",
    "models",
    "weights",
    "image",
    "styles",
    "backends",
    "pipeline",
    "video",
    "train",
    "eval",
    "bench",
    "server",
    "demo",
    "cli",
    "__main__",
]


def package_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 or relative.name != "__init__.py" else ""


def imported_packages(path: Path) -> set[str]:
    """The first component below ``adain`` of every ``adain.*`` module ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "adain" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if package_of(p))


def test_every_package_has_a_layer() -> None:
    assert {package_of(p) for p in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_lower_layers(path: Path) -> None:
    own = package_of(path)
    allowed = set(LAYERS[: LAYERS.index(own) + 1])
    upward = sorted(imported_packages(path) - allowed)
    assert not upward, f"{path.relative_to(PACKAGE)} ({own}) imports from higher layers: {upward}"


def test_the_readme_layout_section_names_every_package() -> None:
    """The README's "Code layout" block lists exactly the packages and top-level modules there are."""
    readme = (PACKAGE.parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Code layout", 1)[1].split("```", 2)[1]
    named = {word.rstrip("/").removesuffix(".py") for word in block.split() if word.endswith(("/", ".py"))}
    present = {
        p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    present -= {"__init__", "__main__", "demo"}
    missing = sorted(present - named)
    assert not missing, f"README's code layout does not name {missing}"
    assert not sorted(named - present - {"src/adain", "tools", "tests", "adain", "arguments", "cli/arguments"}), named
