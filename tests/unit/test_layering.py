"""The package layering written in the README holds: no module imports from a layer
below its own (the list runs from the bottom layer down to the entry points), at module
level or inside a function. Imports under `if TYPE_CHECKING:` name types only and are
not counted."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "digest"


def layers() -> list[list[str]]:
    """The README's "Package layering" list: the modules of each layer, bottom first."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Package layering", 1)[1].split("\n## ", 1)[0]
    items = re.split(r"^\d+\. ", section, flags=re.MULTILINE)[1:]
    found = [re.findall(r"`(digest(?:\.\w+)*)`", item.split("It is handed")[0]) for item in items]
    assert len(found) >= 3 and all(found), "the README's layering list could not be read"
    return found


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(tree: ast.AST, module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, module name) for every import in the tree outside TYPE_CHECKING blocks;
    `from package import name` yields `package.name` (a submodule, or a name defined in
    the package: either way the layer of its longest listed prefix)."""
    if isinstance(tree, ast.If) and _is_type_checking(tree):
        yield from (x for child in tree.orelse for x in imported(child, module, path))
        return
    if isinstance(tree, ast.Import):
        for alias in tree.names:
            yield tree.lineno, alias.name
    elif isinstance(tree, ast.ImportFrom):
        base = tree.module or ""
        if tree.level:
            package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
            for _ in range(tree.level - 1):
                package = package.rsplit(".", 1)[0]
            base = f"{package}.{base}" if base else package
        for alias in tree.names:
            yield tree.lineno, f"{base}.{alias.name}"
    for child in ast.iter_child_nodes(tree):
        yield from imported(child, module, path)


def layer_of(name: str, table: list[list[str]]) -> int | None:
    """The layer of the longest listed prefix of `name`."""
    best: tuple[int, int] | None = None
    for index, names in enumerate(table):
        for listed in names:
            matches = name == listed or name.startswith(listed + ".")
            if matches and (best is None or len(listed) > best[0]):
                best = (len(listed), index)
    return None if best is None else best[1]


def test_every_module_has_a_layer() -> None:
    table = layers()
    missing = [module for module, _ in modules() if layer_of(module, table) is None]
    assert not missing, f"modules with no layer in the README's layering: {missing}"


def test_no_module_imports_from_a_layer_below() -> None:
    table = layers()
    upward = []
    for module, path in modules():
        own = layer_of(module, table)
        assert own is not None
        for line, name in imported(ast.parse(path.read_text(), str(path)), module, path):
            if name != "digest" and not name.startswith("digest."):
                continue
            target = layer_of(name, table)
            if target is not None and target > own:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not upward, "imports against the layering:\n" + "\n".join(sorted(set(upward)))


def test_the_walk_sees_function_level_imports() -> None:
    source = "def f():\n    from digest.web import app\n"
    tree = ast.parse(source)
    names = [name for _, name in imported(tree, "digest.mail.x", PACKAGE / "mail" / "x.py")]
    assert names == ["digest.web.app"]
    hidden = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import digest.web\n"
    )
    assert "digest.web" not in [n for _, n in imported(hidden, "m", PACKAGE / "m.py")]
    # The engine sits below the domain: an import of the domain from it is against the list.
    table = layers()
    engine, domain = layer_of("digest.mail.delivery", table), layer_of("digest.bounces", table)
    assert engine is not None and domain is not None and engine < domain
