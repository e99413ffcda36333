"""The house rules of ARCHITECTURE.md, checked on the source: dependencies point inward and no
module waits on another that waits on it.

The import graph is read from the AST of the project's own packages, imports inside functions
included (a function-level import only hides a cycle until the function runs); imports under
``if TYPE_CHECKING:`` are left out, since they never run. Enqueuing a job by its dotted name
(RQ) is not an import, which is how ``workers/queues.py`` reaches the jobs without one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from callcenter.config import PROJECT_ROOT

PACKAGES = ("callcenter", "webhooks", "workers", "simulator", "manage")
DOMAIN = "callcenter"
MAX_DOMAIN_TOP_LEVEL_MODULES = 15


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file of the given packages."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node that can run: the body of ``if TYPE_CHECKING:`` is skipped (its ``else``
    is not)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports: ``from a import b`` counts as ``a.b`` when that is
    a module, else as ``a``; relative imports are resolved against ``name``'s package."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    resolved = {_known_prefix(module, known) for module in found}
    return {module for module in resolved if module is not None and module != name}


def _known_prefix(module: str, known: set[str]) -> str | None:
    """``a.b.c`` → the longest of ``a.b.c``, ``a.b``, ``a`` that is a project module."""
    parts = module.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


Graph = dict[str, set[str]]


def import_graph(root: Path, packages: Iterable[str]) -> Graph:
    """Module → the project modules it imports."""
    modules = module_files(root, packages)
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def _path(graph: Graph, start: str, goal: str) -> list[str] | None:
    """A shortest import chain from ``start`` to ``goal`` (breadth first), or None."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module]):
                if target in came_from:
                    continue
                came_from[target] = module
                if target == goal:
                    chain = [goal]
                    while chain[-1] != start or len(chain) == 1:
                        chain.append(came_from[chain[-1]])
                    return chain[::-1]
                following.append(target)
        frontier = following
    return None


def cycles(graph: Graph) -> list[tuple[list[str], list[str]]]:
    """Each group of modules that import each other (directly or round about), with one
    shortest cycle through it, so a failure says where to cut."""
    found: list[tuple[list[str], list[str]]] = []
    seen: set[str] = set()
    for module in sorted(graph):
        if module in seen:
            continue
        cycle = _path(graph, module, module)
        if cycle is None:
            continue
        group = sorted(other for other in graph if _path(graph, module, other) is not None
                       and _path(graph, other, module) is not None)
        seen.update(group)
        found.append((cycle, group))
    return found


def _top(module: str) -> str:
    return module.partition(".")[0]


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(PROJECT_ROOT, PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_among_the_project_modules(graph: Graph, package: str):
    """One case per package, so a cycle points at the room it lives in; a cycle that spans two
    rooms fails both."""
    theirs = [f"{' → '.join(cycle)} (all of {', '.join(group)})"
              for cycle, group in cycles(graph) if any(_top(m) == package for m in group)]
    assert theirs == []


def test_the_domain_imports_no_outer_room(graph: Graph):
    """ARCHITECTURE.md: dependencies point inward; ``callcenter/`` runs without Flask, RQ, the
    command line or the simulator."""
    outward = sorted(f"{source} → {target}" for source, targets in graph.items()
                     for target in targets if _top(source) == DOMAIN and _top(target) != DOMAIN)
    assert outward == []


def test_the_domain_keeps_at_most_fifteen_top_level_modules():
    """The rest lives in capability packages (voice, tickets, channels, ...)."""
    top_level = sorted(path.stem for path in (PROJECT_ROOT / DOMAIN).glob("*.py")
                       if path.name != "__init__.py")
    assert len(top_level) <= MAX_DOMAIN_TOP_LEVEL_MODULES, top_level


ENVIRONMENT_READERS = {"environ", "environb", "getenv", "getenvb"}
CONFIG_MODULE = "callcenter.config"


def reads_the_environment(path: Path) -> bool:
    """``os.environ``/``os.getenv`` used, or imported from ``os`` by name."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_READERS
                and isinstance(node.value, ast.Name) and node.value.id == "os"):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                alias.name in ENVIRONMENT_READERS for alias in node.names):
            return True
    return False


@pytest.mark.parametrize("package", PACKAGES)
def test_only_the_config_module_reads_the_environment(package: str):
    """STYLE.md: configuration is read once into one settings object; a variable read
    anywhere else escapes the README's table and its tests."""
    readers = sorted(name for name, path in module_files(PROJECT_ROOT, [package]).items()
                     if name != CONFIG_MODULE and reads_the_environment(path))
    assert readers == []


def test_the_graph_counts_imports_in_functions_but_not_those_for_type_checkers(tmp_path: Path):
    """The checker itself: a cycle hidden behind a function-level import is found; one that
    exists only for the type checker is not; relative imports resolve."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def later():\n    from pkg import b\n")
    (package / "b.py").write_text("from . import a\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import X\n")
    (package / "d.py").write_text("import pkg.c\n")
    found = cycles(import_graph(tmp_path, ["pkg"]))
    assert [group for _cycle, group in found] == [["pkg.a", "pkg.b"]]


WORK_ITEM = re.compile(r"\bissues?\s*#?\d+", re.I)
PRODUCT_TEXT = ("*.py", "*.html", "*.json", "*.txt", "*.po", "*.md", "*.cfg", "*.toml")


def test_product_text_names_no_work_item():
    """Help, pages, comments and docstrings give reasons (the procedure's P-numbers), not the
    tracker's "issue N": a reader of the product has no tracker (benchmarks' own README
    records rounds of work and is left out)."""
    files = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "Procfile",
             *sorted((PROJECT_ROOT / "scripts").iterdir())]
    for package in PACKAGES:
        for pattern in PRODUCT_TEXT:
            files += sorted((PROJECT_ROOT / package).rglob(pattern))
    mentions = [f"{path.relative_to(PROJECT_ROOT)}:{number}"
                for path in files if path.is_file()
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if WORK_ITEM.search(line)]
    assert mentions == []


STATUS_ATTRIBUTES = {"status", "queue_state", "presence"}


def literal_status_uses(path: Path) -> list[int]:
    """Lines where a ``.status``/``.queue_state``/``.presence`` is compared with, or set to, a
    string literal instead of its :mod:`callcenter.statuses` member."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
        elif isinstance(node, ast.Assign):
            sides = [*node.targets, node.value]
        else:
            continue
        names = [s for s in sides if isinstance(s, ast.Attribute) and s.attr in STATUS_ATTRIBUTES]
        literals = [s for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str)]
        literals += [e for s in sides if isinstance(s, (ast.Tuple, ast.List, ast.Set))
                     for e in s.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if names and literals:
            found.append(node.lineno)
    return found


@pytest.mark.parametrize("package", ("callcenter", "webhooks", "workers"))
def test_statuses_are_compared_through_their_enums(package: str):
    """One spelling per status (``callcenter.statuses``): a literal "resolved" in code is how
    "cancelled" and Twilio's "canceled" once lived side by side (the database values stay)."""
    uses = [f"{name}:{line}" for name, path in module_files(PROJECT_ROOT, [package]).items()
            for line in literal_status_uses(path)]
    assert uses == []
