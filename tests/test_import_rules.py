"""The dependency direction of docs/architecture.md ("Dependency direction"), checked on the source.

`web -> proxy (core, stats, audit) -> connector interface`, with `proxy.db` below everything that writes
SQL. Every module under proxy/ and web/ is parsed (not imported) and each of its imports is read, at any
level: module top, functions (lazy imports), `if TYPE_CHECKING:` blocks. What still breaks a rule today
is listed below as known debt, each entry with why it is there; a new violation fails, and so does an
entry that no longer applies, so that the lists only shrink.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("proxy", "web", "vk_emulator", "tg_emulator")
EMULATORS = ("vk_emulator", "tg_emulator")
MAX_LINES = 600

# -- known debt: each entry is to be removed, never added to -------------------------------------------

# Import edges that close a circle. The circles are computed without these edges; each entry breaks one circle.
KNOWN_CIRCLE_EDGES: set[tuple[str, str]] = set()

# proxy/ modules that import web/ besides the composition root.
WEB_IMPORTERS = {
    "proxy.runtime.app",  # the composition root: create_app mounts the web UI (not debt)
}

# Modules outside proxy.stats (and outside web/, which shows the figures) that import proxy.stats.
STATS_IMPORTERS: set[str] = set()

# Production modules over MAX_LINES lines.
LONG_MODULES: set[str] = set()


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the project module imported
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an imported dotted name lives in (the longest existing prefix), if any."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports_of(module: str, path: Path) -> list[Import]:
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                # A package's own name is its anchor for level 1; a module's is its package.
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from proxy import db` imports the module proxy.db; `from proxy.db import sql` imports
            # proxy.db.sql; `from proxy.db.sql import SqlQuery` imports proxy.db.sql.
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.append(Import(module, target, node.lineno))
    # `from proxy.models import A, B` is one import of proxy.models.
    return sorted(set(found), key=lambda i: (i.line, i.target))


IMPORTS = [imported for module, path in MODULES.items() for imported in _imports_of(module, path)]


def _within(module: str, *packages: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def _where(imported: Import) -> str:
    return f"{MODULES[imported.source].relative_to(ROOT)}:{imported.line} imports {imported.target}"


def _circles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a sorted list."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so that a long chain of imports cannot reach Python's recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _one_circle(component: list[str], edges: set[tuple[str, str]]) -> list[str]:
    """One concrete circle through the component's first module, for the failure message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for source, target in sorted(edges):
            if source != node or target not in members:
                continue
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return component


def test_the_parser_sees_lazy_and_relative_imports() -> None:
    """The rules below are only as good as the graph: a lazy import inside a function is an edge."""
    edges = {(i.source, i.target) for i in IMPORTS}
    assert ("proxy.sync", "proxy.cli_errors") in edges  # `from proxy.cli_errors import ...` inside a function
    assert ("proxy.cli.common", "proxy.db") in edges  # `from proxy import db`
    assert ("proxy.runtime.app", "web") in edges
    # `from .delivery import CallbackDelivery` under `if TYPE_CHECKING:`
    assert ("vk_emulator.keys", "vk_emulator.delivery") in edges
    assert len(MODULES) > 80


def test_no_import_circles() -> None:
    edges = {(i.source, i.target) for i in IMPORTS}
    assert KNOWN_CIRCLE_EDGES <= edges, f"no longer imported, remove: {sorted(KNOWN_CIRCLE_EDGES - edges)}"
    remaining = edges - KNOWN_CIRCLE_EDGES
    circles = [" -> ".join(_one_circle(c, remaining)) for c in _circles(remaining)]
    assert circles == [], "import circles:\n" + "\n".join(circles)
    for edge in sorted(KNOWN_CIRCLE_EDGES):
        # Each known edge must still be needed to break a circle; else it is no longer debt.
        assert _circles(remaining | {edge}), f"{edge} closes no circle any more: remove it from the list"


def test_proxy_imports_web_only_in_the_composition_root() -> None:
    importers = {i.source for i in IMPORTS if _within(i.source, "proxy") and _within(i.target, "web")}
    wrong = [_where(i) for i in IMPORTS if i.source in importers - WEB_IMPORTERS and _within(i.target, "web")]
    assert wrong == [], "\n".join(wrong)
    assert importers == WEB_IMPORTERS, f"no longer importing web, remove: {sorted(WEB_IMPORTERS - importers)}"


def test_a_connector_imports_only_the_event_vocabulary() -> None:
    """A connector reaches the core through its sinks."""
    wrong = [
        _where(i)
        for i in IMPORTS
        if _within(i.source, "proxy.connectors") and not _within(i.target, "proxy.connectors", "proxy.events")
    ]
    assert wrong == [], "\n".join(wrong)


# A network's connector package: proxy.connectors.vk (a package under proxy.connectors).
NETWORK_PACKAGES = {
    module
    for module, path in MODULES.items()
    if module.startswith("proxy.connectors.") and module.count(".") == 2 and path.name == "__init__.py"
}
# The one module that may import a network's connector: the core finds connectors through it.
REGISTRY = "proxy.connectors.registry"


def test_the_core_reaches_a_network_only_through_the_registry() -> None:
    """Core, web and the other networks see a network through the interface (proxy.connectors.base) and
    the registry; only the registry imports the network's own package."""
    assert "proxy.connectors.vk" in NETWORK_PACKAGES
    wrong = [
        _where(i)
        for i in IMPORTS
        for network in NETWORK_PACKAGES
        if _within(i.target, network) and not _within(i.source, network) and i.source != REGISTRY
    ]
    assert wrong == [], "\n".join(wrong)


def test_the_emulators_stand_apart() -> None:
    """An emulator is a fake network: it imports nothing outside itself (not the proxy, not the other
    emulator), and of the proxy only the demo (which runs it when no real community is configured)
    imports it; tests and bench use it freely."""
    wrong = []
    for emulator in EMULATORS:
        wrong += [
            _where(i) for i in IMPORTS if _within(i.source, emulator) and not _within(i.target, emulator)
        ]
        wrong += [
            _where(i)
            for i in IMPORTS
            if _within(i.target, emulator) and not _within(i.source, emulator) and i.source != "proxy.demo"
        ]
    assert wrong == [], "\n".join(wrong)


def test_audit_stats_models_and_db_do_not_import_a_connector() -> None:
    wrong = [
        _where(i)
        for i in IMPORTS
        if _within(i.source, "proxy.audit", "proxy.stats", "proxy.models", "proxy.db")
        and _within(i.target, "proxy.connectors")
    ]
    assert wrong == [], "\n".join(wrong)


def test_statistics_are_imported_only_by_the_web_ui() -> None:
    """Statistics read what the core writes: nothing in proxy/ outside proxy.stats depends on them."""
    importers = {
        i.source
        for i in IMPORTS
        if _within(i.target, "proxy.stats")
        and _within(i.source, "proxy")
        and not _within(i.source, "proxy.stats")
    }
    wrong = [
        _where(i)
        for i in IMPORTS
        if i.source in importers - STATS_IMPORTERS and _within(i.target, "proxy.stats")
    ]
    assert wrong == [], "\n".join(wrong)
    assert importers == STATS_IMPORTERS, (
        f"no longer importing stats, remove: {sorted(STATS_IMPORTERS - importers)}"
    )


def test_statistics_do_not_write() -> None:
    """Statistics only read: no journal, ingest, moderation, actions, outbox, nor the web UI."""
    writers = ("proxy.audit", "proxy.ingest", "proxy.moderation", "proxy.actions", "proxy.outbox", "web")
    wrong = [_where(i) for i in IMPORTS if _within(i.source, "proxy.stats") and _within(i.target, *writers)]
    assert wrong == [], "\n".join(wrong)


def test_production_modules_stay_short() -> None:
    # Migrations are not counted: they are history, written once and never edited.
    lengths = {module: len(path.read_text(encoding="utf-8").splitlines()) for module, path in MODULES.items()}
    long = {
        module
        for module, lines in lengths.items()
        if lines > MAX_LINES and not _within(module, "proxy.migrations")
    }
    new = sorted(f"{module}: {lengths[module]} lines" for module in long - LONG_MODULES)
    assert new == [], f"over {MAX_LINES} lines: {new}"
    assert long == LONG_MODULES, f"now short enough, remove: {sorted(LONG_MODULES - long)}"


# -- one writer of moderation state (docs/architecture.md, "Tombstones") ------------------------------------

MODERATION_WRITER = "proxy.moderation"
# The rows it alone writes, and the columns that say an item is deleted, restored or an author banned.
MODERATION_MODELS = {"ItemTombstone", "Ban"}
MODERATION_COLUMNS = {
    "is_deleted", "deleted_at", "deleted_via", "deleted_by", "deleted_by_id", "deleter_vk_id", "last_text",
    "restored_at", "restored_by", "restored_by_id", "banned_at", "banned_by", "banned_by_id", "lifted_at",
}  # fmt: skip
_WRITING_METHODS = {"create", "bulk_create", "get_or_create", "update_or_create", "update", "bulk_update",
                    "delete", "save"}  # fmt: skip
_MODERATION_SQL = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(?:item_tombstone|ban)\b"
    r"|\bUPDATE\s+\"?item\b[^;]*?\bSET\b[^;]*?\b(?:is_deleted|deleted_at)\s*=",
    re.IGNORECASE | re.DOTALL,
)


def _root_name(node: ast.expr) -> str | None:
    """The name a chain such as `Ban.filter(...).using_db(conn).update` starts from."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _names_a_column(node: ast.expr) -> bool:
    return any(
        isinstance(value, ast.Constant) and value.value in MODERATION_COLUMNS for value in ast.walk(node)
    )


def moderation_writes(source: str) -> list[tuple[int, str]]:
    """Where the source writes a tombstone, a ban or an item's deletion mark, found on the parsed source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in MODERATION_MODELS:
                found.append((node.lineno, f"{func.id}(...)"))
            elif isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) > 1:
                if _names_a_column(node.args[1]):
                    found.append((node.lineno, "setattr of a moderation column"))
            elif isinstance(func, ast.Attribute) and func.attr in _WRITING_METHODS:
                root = _root_name(func.value)
                if root in MODERATION_MODELS:
                    found.append((node.lineno, f"{root}...{func.attr}(...)"))
                elif any(k.arg in MODERATION_COLUMNS for k in node.keywords):
                    found.append((node.lineno, f".{func.attr}() of a moderation column"))
                elif func.attr == "save" and any(
                    k.arg == "update_fields" and _names_a_column(k.value) for k in node.keywords
                ):
                    found.append((node.lineno, ".save() of a moderation column"))
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and part.attr in MODERATION_COLUMNS:
                        found.append((node.lineno, f".{part.attr} = ..."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODERATION_SQL.search(node.value):
            found.append((node.lineno, "SQL writing item_tombstone, ban or is_deleted"))
    return found


def test_only_moderation_writes_tombstones_restores_and_bans() -> None:
    """Ingest and the outbox both learn of a deletion, a restoration or a ban; they record it through
    proxy/moderation.py, which is idempotent, so the fact is stored once (migrations aside)."""
    wrong = [
        f"{MODULES[module].relative_to(ROOT)}:{line}: {what}"
        for module, path in MODULES.items()
        if _within(module, "proxy", "web")
        and module != MODERATION_WRITER
        and not _within(module, "proxy.migrations")
        for line, what in moderation_writes(path.read_text(encoding="utf-8"))
    ]
    assert wrong == [], "write these through proxy/moderation.py:\n" + "\n".join(wrong)


def test_the_moderation_check_sees_each_kind_of_write() -> None:
    writes = [
        "ItemTombstone.create(item_id=1, deleted_at=at)",
        "ItemTombstone(item_id=1)",
        "Ban.create(community_id=1)",
        "Ban.filter(id=1).using_db(conn).update(lifted_at=at)",
        "ItemTombstone.filter(item_id=1).update(restored_by_id=2)",
        "item.is_deleted = True",
        "tombstone.restored_at = at",
        "Item.filter(id=1).update(is_deleted=False)",
        "await item.save(update_fields=['is_deleted', 'deleted_at'])",
        "setattr(item, 'is_deleted', True)",
        "q.rows(f'INSERT INTO ban ({names}) VALUES ({values})')",
        "q.rows('UPDATE item_tombstone SET restored_at = $1')",
        "q.rows('UPDATE item SET is_deleted = TRUE WHERE id = $1')",
    ]
    for write in writes:
        assert moderation_writes(write), write
    reads = [
        "ItemTombstone.filter(item_id=1).exists()",
        "Ban.filter(author_id=1).order_by('-banned_at')",
        "Item.filter(is_deleted=False).count()",
        "ArchivedItem(is_deleted=row['is_deleted'])",
        "q.rows('SELECT * FROM item_tombstone JOIN ban ON TRUE')",
        "q.rows('UPDATE conversation SET preview = $1 WHERE id IN (SELECT id FROM item WHERE is_deleted = FALSE)')",
    ]
    for read in reads:
        assert moderation_writes(read) == [], read
    assert moderation_writes(MODULES[MODERATION_WRITER].read_text(encoding="utf-8"))
