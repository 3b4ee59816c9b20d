"""How digest's modules import each other: importing a pure helper loads the helper, not
the service (`digest/__init__.py` imports Flask, the runtime and the web app only when
`create_app` is called), and no module-level imports go round in a circle (a view module
importing the package that imports it, as the admin console's once did)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

# What a pure helper must not pull in: Flask, the process wiring, the web app, the mail
# engine and the configuration loader.
SERVICE = ("digest.runtime", "digest.web", "digest.mail", "digest.config")


@pytest.mark.parametrize(
    "module",
    ["digest.words", "digest.topics", "digest.weekly.resolutions", "digest.weekly.weeks"],
)
def test_a_pure_helper_does_not_load_the_service(module: str) -> None:
    code = (
        f"import json, sys, {module}\n"
        f"print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] == 'flask'"
        f" or n.startswith({SERVICE!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [], f"importing {module} loaded {out}"


DIGEST = Path(__file__).resolve().parents[2] / "digest"


def _module_graph() -> dict[str, set[str]]:
    """Module -> the digest modules it imports at module level (not inside functions or
    `if TYPE_CHECKING:`). `from a import b` counts as importing module a.b when there is
    one, else a."""
    modules = {}
    for path in DIGEST.rglob("*.py"):
        parts = path.relative_to(DIGEST.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                graph[name] |= subs or {node.module}
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names} & modules.keys()
    return graph


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    path: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        for imported in sorted(graph[name]):
            if found := visit(imported):
                return found
        path.pop()
        done.add(name)
        return None

    return visit(start)


def test_no_module_level_import_cycles() -> None:
    graph = _module_graph()
    assert graph.get("digest.web.admin.auth")
    cycles = [c for name in sorted(graph) if (c := _cycle_from(name, graph))]
    assert cycles == [], " -> ".join(cycles[0]) if cycles else ""
