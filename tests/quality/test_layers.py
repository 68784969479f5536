"""The package layers hold, module by module (issue #14): X12 syntax (``edi``, with ``sftp`` beside it as
transport) → transaction parsers (``parsers``) → EOB (``eob``) → storage (``claimflow.db``,
``claimflow.db.audit`` and the infrastructure listed in :data:`STORAGE`) → posting/reconciliation
(``adjudication``) → services/CLI (the rest of ``claimflow``) → DAGs (``dags``, ``plugins``).

Why a test and not import-linter: it needs no new dependency (pyproject.toml/uv.lock belong to another
change). Every ``import``/``from … import`` counts wherever it sits — module top, inside a function,
under ``TYPE_CHECKING`` — and so does ``importlib.import_module("literal")``, because a lazy import is a
dependency all the same. A violation is reported as ``module → imported module (line)``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("edi", "sftp", "parsers", "eob", "adjudication", "claimflow", "dags", "plugins")
DOMAIN = ("edi", "sftp", "parsers", "eob", "adjudication")
"""Domain packages: never import airflow (or the DAGs) — they run in the CLI and tests without it."""

#: claimflow modules that sit in the storage layer, below adjudication (a prefix covers its submodules).
STORAGE: dict[str, str] = {
    "claimflow.db": "ORM models, engine/session helpers, Money type, migrations entry, patient keys, audit log, "
    "control numbers, file permissions at rest, analyst views",
    "claimflow.settings": "configuration (database URL, data dir, salt) that storage needs to open",
    "claimflow.errors": "typed base errors with no imports; anything may raise them",
}

#: claimflow subpackages above the services: the development tools (sandbox clearinghouse, synthetic practice,
#: demo) drive the services; the CLI and the web console drive everything below them.
TOOLS: dict[str, str] = {
    "claimflow.sandbox": "devtools",
    "claimflow.cli": "cli",
    "claimflow.console": "cli",
}

#: Layer rank of each component: a module may import only modules of its own rank or lower.
RANK: dict[str, int] = {
    "edi": 0,
    "sftp": 0,
    "parsers": 1,
    "eob": 2,
    "storage": 3,
    "adjudication": 4,
    "services": 5,
    "devtools": 6,
    "cli": 7,
    "dags": 8,
    "plugins": 8,
}

#: Known violations waiting for a one-line fix in a file another change owns. Each entry must still
#: occur (a fixed one fails the test until it is removed here), so the list only ever shrinks.
PENDING: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    module: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.module} → {self.target} ({self.line})"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collect_sources(root: Path = ROOT) -> dict[str, tuple[str, bool]]:
    """module name → (source, is a package ``__init__``) for every module of :data:`PACKAGES`."""
    out: dict[str, tuple[str, bool]] = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            if any(part.startswith(".") or part in ("build", "__pycache__") for part in path.parts):
                continue
            out[module_name(path, root)] = (path.read_text(encoding="utf-8"), path.name == "__init__.py")
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(sources: Mapping[str, tuple[str, bool]]) -> Iterator[Import]:
    """Every import of every module, resolved to the most specific module it names: ``from claimflow.db
    import models`` is ``claimflow.db.models``, ``from claimflow.db.audit import audit`` is ``claimflow.db.audit``."""
    known = set(sources)
    for module, (source, is_package) in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(module, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    yield Import(module, sub if sub in known else base, node.lineno)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
                == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                yield Import(module, node.args[0].value, node.lineno)


def component(module: str) -> str | None:
    """The layer component of a module, or None for third-party/stdlib modules."""
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if top == "claimflow":
        if any(module == s or module.startswith(s + ".") for s in STORAGE):
            return "storage"
        for prefix, name in TOOLS.items():
            if module == prefix or module.startswith(prefix + "."):
                return name
        return "services"
    return top


def _internal(found: Iterable[Import]) -> Iterator[Import]:
    for imp in found:
        if imp.target.split(".")[0] in PACKAGES and imp.target != imp.module:
            yield imp


def airflow_violations(found: Iterable[Import]) -> list[Import]:
    """(a) domain packages and the storage layer import neither airflow nor the DAGs."""
    out = []
    for imp in found:
        owner = component(imp.module)
        if owner in (*DOMAIN, "storage") and imp.target.split(".")[0] in ("airflow", "dags", "plugins"):
            out.append(imp)
    return out


def layer_violations(found: Iterable[Import]) -> list[Import]:
    """(b) no module imports a module of a higher layer."""
    out = []
    for imp in _internal(found):
        src, dst = component(imp.module), component(imp.target)
        if src is not None and dst is not None and RANK[dst] > RANK[src]:
            out.append(imp)
    return out


def component_cycles(found: Iterable[Import]) -> list[list[str]]:
    """(c) strongly connected components (size > 1) of the component import graph."""
    graph: dict[str, set[str]] = {c: set() for c in RANK}
    for imp in _internal(found):
        src, dst = component(imp.module), component(imp.target)
        if src is not None and dst is not None and src != dst:
            graph[src].add(dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan; the graph has nine nodes, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            scc = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                scc.append(top)
                if top == node:
                    break
            if len(scc) > 1:
                cycles.append(sorted(scc))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def _report(title: str, violations: Iterable[Import]) -> str:
    lines = [str(v) for v in violations]
    for line in lines:
        print(line)
    return f"{title}:\n" + "\n".join(lines)


def _project_imports() -> list[Import]:
    return list(imports(collect_sources()))


def _unexpected(violations: list[Import]) -> list[Import]:
    return [v for v in violations if (v.module, v.target) not in PENDING]


def test_domain_packages_never_import_airflow() -> None:
    violations = _unexpected(airflow_violations(_project_imports()))
    assert not violations, _report("domain/storage modules importing airflow or the DAGs", violations)


def test_no_module_imports_a_higher_layer() -> None:
    violations = _unexpected(layer_violations(_project_imports()))
    assert not violations, _report("imports of a higher layer", violations)


def test_no_cycles_between_components() -> None:
    found = [i for i in _project_imports() if (i.module, i.target) not in PENDING]
    assert component_cycles(found) == []


def test_pending_exceptions_still_exist() -> None:
    """A fixed pending violation must leave :data:`PENDING`, so nothing new hides behind it."""
    actual = {(v.module, v.target) for v in layer_violations(_project_imports())}
    stale = sorted(set(PENDING) - actual)
    assert not stale, f"fixed, remove from PENDING: {stale}"


def test_checker_reports_each_kind_of_violation() -> None:
    """The checker itself: a lazy airflow import in edi, a lazy service import in adjudication, a relative
    import and an import_module call are all seen, with their lines; a cycle shows as one component."""
    sources = {
        "edi.reader": ("import os\n\ndef f():\n    from airflow.sdk import dag\n", False),
        "adjudication.posting": ("from claimflow.db import models\nfrom . import ledger\n", False),
        "adjudication.ledger": ("def g():\n    import claimflow.services.outbound\n", False),
        "claimflow.db.models": ("", False),
        "claimflow.services.outbound": (
            "import importlib\nimportlib.import_module('adjudication.posting')\n",
            False,
        ),
        "claimflow.db": ("", True),
    }
    found = list(imports(sources))
    assert [str(v) for v in airflow_violations(found)] == ["edi.reader → airflow.sdk (4)"]
    assert [str(v) for v in layer_violations(found)] == [
        "adjudication.ledger → claimflow.services.outbound (2)"
    ]
    assert Import("adjudication.posting", "claimflow.db.models", 1) in found
    assert Import("adjudication.posting", "adjudication.ledger", 2) in found
    assert component_cycles(found) == [["adjudication", "services"]]
