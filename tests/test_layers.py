"""The packages are layers, and imports point one way: a module imports modules of its
own layer or of lower ones, never of a higher one (docs/architecture.md).

Every ``import`` statement counts, inside functions too (a deferred import is still a
dependency), except those under ``if TYPE_CHECKING:``, which only annotate.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import doodle

ROOT = Path(doodle.__file__).parent
# Lowest first. doodle.errors (and the package's own __init__) belong to every layer.
LAYERS = ("core", "io", "plan", "weights", "run", "batch serve", "cli")
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer.split()}
SHARED = {"doodle", "doodle.errors", "doodle.__main__"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return RANK.get(parts[1]) if len(parts) > 1 else None


def _type_checking_only(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, inner.end_lineno + 1))
    return lines


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported doodle module) for each import of ``path``; ``from doodle.x
    import y`` counts as doodle.x.y when y is a module, else doodle.x."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_only(tree)
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "doodle"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "doodle":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = (ROOT.parent / sub.replace(".", "/")).with_suffix(".py").exists() or \
                    (ROOT.parent / sub.replace(".", "/")).is_dir()
                found.append((node.lineno, sub if is_module else node.module))
    return found


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "styles" not in p.relative_to(ROOT).parts)


def test_every_module_sits_in_a_layer():
    loose = [_module(p) for p in _sources() if _module(p) not in SHARED and _layer(_module(p)) is None]
    assert loose == []


def test_no_relative_imports():
    relative = [f"{p.relative_to(ROOT.parent)}:{n.lineno}" for p in _sources()
                for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path):
    here = _module(path)
    if here in SHARED:
        return
    upward = [f"line {line}: {target}" for line, target in imports(path)
              if target not in SHARED and _layer(target) is not None and _layer(target) > _layer(here)]
    assert upward == [], f"{here} imports a higher layer: {upward}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The checker itself: an upward import in a core module is found."""
    bad = ROOT / "core" / "vgg.py"
    found = [t for _, t in imports(bad)]
    assert all(_layer(t) == RANK["core"] for t in found if t not in SHARED)
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from doodle.cli import options\n    import doodle.run.api\n")
    assert {t for _, t in imports(probe)} == {"doodle.cli.options", "doodle.run.api"}
